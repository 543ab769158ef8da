//! `wasipy pack`: its arguments, what to pack decided from them, the summary it prints and
//! `--check`'s run.

use crate::pack::app::{App, Entry};
use crate::pack::{self, check, Options};
use crate::runtime::Store;
use crate::settings::Settings;
use crate::venv::Venv;
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The script to run; its folder is packed at /app (not hidden files, caches or venvs).
    #[arg(required_unless_present_any = ["module", "entry"], conflicts_with_all = ["module", "entry"])]
    script: Option<PathBuf>,
    /// Run a module, as `python -m MODULE`; the working directory is packed at /app when
    /// the module is there, else it must be installed in the venv.
    #[arg(
        short = 'm',
        long = "module",
        value_name = "MODULE",
        conflicts_with = "entry"
    )]
    module: Option<String>,
    /// Run this `[project.scripts]` entry of the project (installed in the venv, not editable).
    #[arg(long, value_name = "NAME")]
    entry: Option<String>,
    /// The project folder holding `pyproject.toml`, for --entry.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "entry")]
    project: PathBuf,
    /// The venv to pack (default: $VIRTUAL_ENV, else ./.venv).
    #[arg(long, value_name = "DIR")]
    venv: Option<PathBuf>,
    /// The module to write (default: NAME.wasm, after the script, module or entry).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Keep the `.py` sources beside the bytecode (tracebacks show source lines).
    #[arg(long)]
    keep_source: bool,
    /// Leave out the stdlib modules nothing packed imports (found statically: every
    /// packed module's imports, followed through the stdlib).
    #[arg(long)]
    strip_stdlib: bool,
    /// With --strip-stdlib, keep this stdlib module and what it imports too (for a module
    /// imported only by a computed name); repeatable.
    #[arg(long, value_name = "MODULE", requires = "strip_stdlib")]
    keep_stdlib: Vec<String>,
    /// Then run the packed module in wasipy's engine with no host directories, no
    /// environment and no bridge, with ARGS.
    #[arg(long)]
    check: bool,
    /// Arguments for --check's run (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

impl PackArgs {
    /// What to run, decided from the arguments (a module is looked for in the working
    /// directory as `python -m` would find it there).
    fn app(&self) -> anyhow::Result<App> {
        if let Some(name) = &self.entry {
            let pyproject = self.project.join("pyproject.toml");
            return Ok(App::Entry(Entry::from_pyproject(&pyproject, name)?));
        }
        if let Some(name) = &self.module {
            let top = name.split('.').next().unwrap_or(name);
            let here = PathBuf::from(".");
            let local = here.join(top).is_dir() || here.join(format!("{top}.py")).is_file();
            let dir = local.then(std::env::current_dir).transpose()?;
            return Ok(App::Module {
                name: name.clone(),
                dir,
            });
        }
        let script = self.script.clone().unwrap_or_default();
        if !script.is_file() {
            anyhow::bail!(
                "`{}` is not a file: name the script to pack",
                script.display()
            );
        }
        Ok(App::Script(std::path::absolute(&script)?))
    }
}

pub fn run(args: PackArgs, settings: &Settings) -> anyhow::Result<i32> {
    let app = args.app()?;
    let venv_dir = args
        .venv
        .clone()
        .or_else(|| settings.virtual_env.clone())
        .unwrap_or_else(|| PathBuf::from(".venv"));
    // Absolute, so that errors name files the user can find from anywhere.
    let venv_dir = std::path::absolute(&venv_dir)?;
    let venv = Venv::open(&venv_dir).with_context(|| {
        format!(
            "`{}` is not a wasipy venv; name one with --venv",
            venv_dir.display()
        )
    })?;
    let store = Store::in_home(settings.data_home()?);
    let runtime = store.load(venv.runtime_id()?)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.wasm", app.name())));
    let opts = Options {
        venv: venv_dir,
        app,
        out: out.clone(),
        keep_source: args.keep_source,
        strip_stdlib: args.strip_stdlib,
        keep_stdlib: args.keep_stdlib.clone(),
    };
    let started = std::time::Instant::now();
    let packed = pack::pack(&opts, &runtime, &settings.engine)?;
    eprintln!(
        "Packed {} ({:.1} MB; runtime {} {:.1} MB, {} files {:.1} MB before byte-compiling) in {:.1} s; runs as: {}",
        out.display(),
        mb(packed.size),
        runtime.manifest.id,
        mb(packed.runtime_size),
        packed.files.files,
        mb(packed.files.bytes),
        started.elapsed().as_secs_f64(),
        packed.argv.join(" "),
    );
    if let Some(stdlib) = &packed.stdlib {
        eprintln!(
            "Stdlib: kept {} of {} modules ({:.1} MB of {:.1} MB compressed)",
            stdlib.kept,
            stdlib.modules,
            mb(stdlib.bytes.1),
            mb(stdlib.bytes.0),
        );
    }
    if !args.check {
        return Ok(0);
    }
    let wasm = std::fs::read(&out).with_context(|| format!("cannot read `{}`", out.display()))?;
    let mut argv = vec![out.display().to_string()];
    argv.extend(args.args);
    let status = check::run(&wasm, &argv, &settings.engine).map_err(anyhow::Error::msg)?;
    eprintln!("wasipy: checked {}: exit status {status}", out.display());
    Ok(status)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
