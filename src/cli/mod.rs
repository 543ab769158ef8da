//! The management CLI (`wasipy venv`, `wasipy runtime ...`, `wasipy doctor`): the command
//! line parsed by clap, then one function per command.

mod build;
mod choose;
pub mod doctor;
mod pack;
pub mod runtime_add;
mod runtime_install;

use crate::engine::cache::Cache;
use crate::runtime::{catalogue, Store};
use crate::settings::Settings;
use crate::venv::create::{self, CreateOptions};
use crate::venv::pip::PipSource;
use crate::venv::registry::Registry;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "wasipy",
    version,
    about = "CPython compiled to WASI, behind an ordinary virtual environment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a virtual environment whose python runs CPython-WASI.
    Venv {
        /// Directory of the new environment.
        #[arg(default_value = ".venv")]
        dir: PathBuf,
        /// Runtime id (see `wasipy runtime list`) or a runtime file/directory/archive to
        /// add; default: the catalogue's default.
        #[arg(long, conflicts_with = "python")]
        runtime: Option<String>,
        /// Pick an installed runtime by Python version (`3.12`, `3.12.0`), newest first.
        #[arg(long, value_name = "VERSION")]
        python: Option<String>,
        /// Prompt prefix shown by the activation scripts (default: the directory's name).
        #[arg(long)]
        prompt: Option<String>,
        /// Delete the environment's contents first, if it is a wasipy venv.
        #[arg(long)]
        clear: bool,
        /// Do not install pip (by default the newest pip from the index is installed).
        #[arg(long, conflicts_with_all = ["pip_wheel", "find_links"])]
        without_pip: bool,
        /// Install pip from this wheel file (works offline).
        #[arg(long, value_name = "FILE", conflicts_with = "find_links")]
        pip_wheel: Option<PathBuf>,
        /// Install the newest pip wheel found in this directory (works offline).
        #[arg(long, value_name = "DIR")]
        find_links: Option<PathBuf>,
        /// Sandbox profile: map only the venv, the working directory, the script's
        /// directory, a private temp dir and listed mounts; network off unless allowed.
        #[arg(long)]
        sandbox: bool,
        /// With --sandbox: a host guest code may reach (repeatable; e.g. the index's).
        #[arg(long = "allow-host", value_name = "HOST", requires = "sandbox")]
        allow_hosts: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Manage CPython-WASI runtimes.
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Check the runtime store, the cache and a venv; say what is wrong and how to fix it.
    Doctor {
        /// The venv to check (default: $VIRTUAL_ENV, else ./.venv).
        venv: Option<PathBuf>,
    },
    /// Make a venv and an app into one .wasm module any WASI host runs with nothing else.
    Pack(pack::PackArgs),
}

/// `wasipy venv`'s limits, written to `pyvenv.cfg` when given (see `guest::limits`).
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Most guest memory per interpreter, up to 4GiB (default 2GiB; 512MiB with --sandbox).
    #[arg(long, value_name = "SIZE", value_parser = memory_size)]
    memory: Option<u64>,
    /// Most child interpreters alive at once in a run (default 16; 4 with --sandbox).
    #[arg(long, value_name = "N")]
    max_children: Option<u32>,
    /// Most child interpreters one run starts in all (default 10000; 256 with --sandbox).
    #[arg(long, value_name = "N")]
    max_children_total: Option<u32>,
    /// Most open bridge channels (sockets) per interpreter (default 1024; 256 with --sandbox).
    #[arg(long, value_name = "N")]
    max_channels: Option<u32>,
}

impl LimitArgs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        use crate::guest::limits::*;
        let numbers = [
            (KEY_CHILDREN, self.max_children),
            (KEY_CHILDREN_TOTAL, self.max_children_total),
            (KEY_CHANNELS, self.max_channels),
        ];
        let memory = self.memory.map(|m| (KEY_MEMORY, render_size(m)));
        memory
            .into_iter()
            .chain(
                numbers
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?.to_string()))),
            )
            .collect()
    }
}

fn memory_size(text: &str) -> Result<u64, String> {
    crate::guest::limits::parse_size(text)
        .ok_or_else(|| format!("`{text}` is not a size from 64KiB to 4GiB (such as 512MiB)"))
}

#[derive(Debug, Subcommand)]
enum RuntimeCommand {
    /// Install a runtime by id or Python version (`3.13`: the newest, fastest one known;
    /// default: the default runtime): downloaded and verified by SHA-256, or built here.
    Install {
        #[arg(value_name = "ID|VERSION")]
        id: Option<String>,
        /// Download again even if it is installed and intact.
        #[arg(long)]
        force: bool,
    },
    /// List the catalogue's runtimes and which are installed.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Register a local runtime: a .wasm, a directory, a .zip or a .tar.gz/.tar.xz in
    /// CPython's release layout. It is run once to learn its version and platform.
    Add {
        path: PathBuf,
        /// Name it (default: cpython-VERSION-SHA).
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove an installed runtime (refused while a venv uses it).
    Remove {
        id: String,
        /// Remove it even if venvs use it.
        #[arg(long)]
        force: bool,
    },
    /// Compile a runtime's optimised module into the cache now and wait for it (a first
    /// run otherwise starts on a quick compile and leaves this to a background process).
    Compile {
        id: String,
        /// Print nothing (the background compile a first run starts).
        #[arg(long)]
        quiet: bool,
        /// The runtime store to find it in (default: the user's).
        #[arg(long, hide = true)]
        store: Option<PathBuf>,
    },
    /// Print the runtime store's directory.
    Dir,
}

pub fn main(settings: &Settings) -> anyhow::Result<i32> {
    let cli = Cli::parse();
    if let Some(path) = &settings.catalogue {
        catalogue::init(path).map_err(anyhow::Error::msg)?;
    }
    let store = || -> anyhow::Result<Store> { Ok(Store::in_home(settings.data_home()?)) };
    match cli.command {
        Command::Venv {
            dir,
            runtime,
            python,
            prompt,
            clear,
            without_pip,
            pip_wheel,
            find_links,
            sandbox,
            allow_hosts,
            limits,
        } => {
            let pip = match (without_pip, pip_wheel, find_links) {
                (true, _, _) => PipSource::None,
                (_, Some(file), _) => PipSource::Wheel(file),
                (_, _, Some(dir)) => PipSource::FindLinks(dir),
                _ => PipSource::Index,
            };
            let opts = CreateOptions {
                dir,
                prompt,
                clear,
                pip,
                sandbox: sandbox.then_some(allow_hosts),
                limits: limits.pairs(),
            };
            create_venv(opts, runtime.as_deref(), python.as_deref(), settings)
        }
        Command::Runtime(RuntimeCommand::Install { id, force }) => {
            install(&store()?, id.as_deref(), force, settings)
        }
        Command::Runtime(RuntimeCommand::List { json }) => list(&store()?, json),
        Command::Runtime(RuntimeCommand::Add { path, id }) => {
            let installed = runtime_add::add(&store()?, &path, id.as_deref(), settings)?;
            let m = &installed.manifest;
            println!(
                "{} {} {} {}",
                m.id,
                m.python_version,
                m.platform,
                installed.dir.display()
            );
            Ok(0)
        }
        Command::Runtime(RuntimeCommand::Remove { id, force }) => {
            let registry = Registry::in_home(settings.data_home()?);
            runtime_add::remove(&store()?, &registry, &id, force)?;
            eprintln!("Removed runtime {id}");
            Ok(0)
        }
        Command::Runtime(RuntimeCommand::Compile { id, quiet, store }) => {
            let store = match store {
                Some(root) => Store::at(root),
                None => Store::in_home(settings.data_home()?),
            };
            compile(&store, &id, quiet, settings)
        }
        Command::Runtime(RuntimeCommand::Dir) => {
            println!("{}", store()?.root().display());
            Ok(0)
        }
        Command::Doctor { venv } => doctor::run(venv, settings),
        Command::Pack(args) => pack::run(args, settings),
    }
}

/// `wasipy runtime compile`: the optimised module, compiled into the cache unless it is
/// there or another process is compiling it.
fn compile(store: &Store, id: &str, quiet: bool, settings: &Settings) -> anyhow::Result<i32> {
    let installed = store.load(id)?;
    let done =
        Cache::new(&installed, settings.cache_home()?, settings.engine).compile_optimized()?;
    if !quiet {
        match done {
            true => eprintln!("Compiled runtime {id}: later runs load the optimised module"),
            false => eprintln!("Runtime {id} is being compiled by another process"),
        }
    }
    Ok(0)
}

fn create_venv(
    opts: CreateOptions,
    runtime: Option<&str>,
    python: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<i32> {
    let data_home = settings.data_home()?;
    let store = Store::in_home(data_home);
    // `wasipy venv DIR` again on a wasipy venv keeps its runtime unless told otherwise.
    let existing = crate::venv::Venv::open(&opts.dir).ok();
    let kept = existing.as_ref().and_then(|v| v.runtime_id().ok());
    let runtime = runtime.or(kept.filter(|_| python.is_none()));
    let installed = choose::runtime(&store, runtime, python, settings)?;
    // A runtime installed from the catalogue (or before wasipy copied embedded stdlibs out)
    // gets its copy here, once: `runtime install` does the same.
    let installed = runtime_add::extract_installed(&store, installed, settings)?;
    let launcher = std::env::current_exe()?;
    let (venv, pip) = create::create(&opts, &installed, &launcher, settings.cache_home()?)?;
    if let Err(err) = create::compile_site_packages(&venv, &installed) {
        eprintln!("wasipy: warning: {err}");
    }
    // Remembered so that `runtime remove` knows who uses what; a failure is not fatal.
    if let Err(err) = Registry::in_home(data_home).record(&venv.dir) {
        eprintln!("wasipy: warning: {err}");
    }
    eprintln!(
        "Created {} with CPython {} (WASI, runtime {}){}",
        venv.dir.display(),
        installed.manifest.python_version,
        installed.manifest.id,
        pip.map(|p| format!(" and {p}")).unwrap_or_default()
    );
    Ok(0)
}

fn install(
    store: &Store,
    spec: Option<&str>,
    force: bool,
    settings: &Settings,
) -> anyhow::Result<i32> {
    let entry = runtime_install::resolve(spec)?;
    let installed = match force {
        true => runtime_install::install(store, entry, true, settings)?,
        false => runtime_install::ensure(store, entry, settings)?,
    };
    let installed = runtime_add::extract_installed(store, installed, settings)?;
    println!(
        "{} {} {}",
        installed.manifest.id,
        installed.manifest.python_version,
        installed.dir.display()
    );
    Ok(0)
}

fn list(store: &Store, json: bool) -> anyhow::Result<i32> {
    let installed = store.list();
    let default = &catalogue::get().default_runtime;
    if json {
        let mut rows: Vec<serde_json::Value> = installed
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "version": m.python_version, "platform": m.platform,
                    "installed": true, "default": &m.id == default, "source": m.source,
                    "sha256": m.sha256, "path": store.dir_of(&m.id),
                    "stdlib": if m.stdlib.is_some() { "on disk" } else { "embedded" },
                })
            })
            .collect();
        for entry in &catalogue::get().runtimes {
            if !installed.iter().any(|m| m.id == entry.id) {
                rows.push(serde_json::json!({
                    "id": entry.id, "version": entry.python_version, "installed": false,
                    "default": &entry.id == default, "sha256": entry.sha256,
                }));
            }
        }
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    println!(
        "{:<24} {:<9} {:<10} SOURCE / DESCRIPTION",
        "ID", "VERSION", "STATUS"
    );
    for entry in &catalogue::get().runtimes {
        let found = installed.iter().find(|m| m.id == entry.id);
        let status = if found.is_some() {
            "installed"
        } else {
            "available"
        };
        let mark = if &entry.id == default {
            " (default)"
        } else {
            ""
        };
        let about = found
            .map(|m| m.source.clone())
            .unwrap_or_else(|| entry.description.clone());
        println!(
            "{:<24} {:<9} {:<10} {about}{mark}",
            entry.id, entry.python_version, status
        );
    }
    for manifest in installed
        .iter()
        .filter(|m| catalogue::get().find(&m.id).is_none())
    {
        println!(
            "{:<24} {:<9} {:<10} {}",
            manifest.id, manifest.python_version, "installed", manifest.source
        );
    }
    Ok(0)
}
