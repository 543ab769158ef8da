//! The management CLI (`wasipy venv`, `wasipy runtime ...`).

use crate::runtime::{self, Store};
use crate::seed::PipSource;
use crate::venv::{self, CreateOptions};
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
        /// Runtime id (see `wasipy runtime list`); default: the catalogue's default.
        #[arg(long)]
        runtime: Option<String>,
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
    },
    /// Manage CPython-WASI runtimes.
    #[command(subcommand)]
    Runtime(RuntimeCommand),
}

#[derive(Debug, Subcommand)]
enum RuntimeCommand {
    /// Download a runtime (default: the default runtime) into the store, verified by SHA-256.
    Install {
        id: Option<String>,
        /// Download again even if it is installed and intact.
        #[arg(long)]
        force: bool,
    },
    /// List the catalogue's runtimes and which are installed.
    List,
}

pub fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Venv {
            dir,
            runtime,
            prompt,
            clear,
            without_pip,
            pip_wheel,
            find_links,
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
            };
            create_venv(opts, runtime.as_deref())
        }
        Command::Runtime(RuntimeCommand::Install { id, force }) => install(id.as_deref(), force),
        Command::Runtime(RuntimeCommand::List) => list(),
    }
}

fn create_venv(opts: CreateOptions, runtime_id: Option<&str>) -> anyhow::Result<i32> {
    let entry = runtime::catalogue_entry(runtime_id)?;
    let store = Store::from_env()?;
    let installed = store.ensure(entry)?;
    let launcher = std::env::current_exe()?;
    let (venv, pip) = venv::create(&opts, &installed, &launcher)?;
    eprintln!(
        "Created {} with CPython {} (WASI, runtime {}){}",
        venv.dir.display(),
        installed.manifest.python_version,
        installed.manifest.id,
        pip.map(|p| format!(" and {p}")).unwrap_or_default()
    );
    Ok(0)
}

fn install(id: Option<&str>, force: bool) -> anyhow::Result<i32> {
    let entry = runtime::catalogue_entry(id)?;
    let store = Store::from_env()?;
    let installed = if force {
        store.install(entry)?
    } else {
        store.ensure(entry)?
    };
    println!(
        "{} {} {}",
        installed.manifest.id,
        installed.manifest.python_version,
        installed.dir.display()
    );
    Ok(0)
}

fn list() -> anyhow::Result<i32> {
    let store = Store::from_env()?;
    let installed = store.list();
    let default = &crate::catalogue::get().default_runtime;
    println!(
        "{:<24} {:<9} {:<10} SOURCE / DESCRIPTION",
        "ID", "VERSION", "STATUS"
    );
    for entry in &crate::catalogue::get().runtimes {
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
        .filter(|m| crate::catalogue::get().find(&m.id).is_none())
    {
        println!(
            "{:<24} {:<9} {:<10} {}",
            manifest.id, manifest.python_version, "installed", manifest.source
        );
    }
    Ok(0)
}
