//! `wasipy pack`: a venv and an app made into one WASI preview 1 command module that any
//! stock host runs with nothing else: the venv's runtime, its site-packages and the app's
//! files byte-compiled into the runtime's embedded filesystem ([`vfs`]), and the module's
//! argv fixed to start the app ([`argv`]).
//!
//! No wasipy shim goes in: on a foreign host there is no bridge, so sockets, child
//! processes and the rest fail with the runtime's own CPython exceptions.

pub mod app;
pub mod argv;
pub mod check;
pub mod error;
mod guest;
pub mod stage;
pub mod stdlib;
pub mod vfs;

use crate::fsio;
use crate::runtime::Installed;
use crate::settings::EngineSettings;
use app::{App, APP_DIR};
pub use error::Error;
use std::path::{Path, PathBuf};

const COMPILER: (&str, &str) = (
    "_wasipy_pack.py",
    include_str!("../../shims/_wasipy_pack.py"),
);
/// Where the runtime was built to live, in the guest: its stdlib and site-packages are there.
const PREFIX: &str = "/usr/local";
/// The one shim a packed module gets, and the `.pth` line that loads it at start-up.
const PACKED_SHIM: (&str, &str) = (
    "_wasipy_packed.py",
    include_str!("../../shims/_wasipy_packed.py"),
);
const PACKED_PTH: (&str, &str) = ("_wasipy_packed.pth", "import _wasipy_packed\n");

/// What to pack, gathered from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub venv: PathBuf,
    pub app: App,
    pub out: PathBuf,
    /// Keep `.py` sources beside the bytecode (tracebacks then show source lines).
    pub keep_source: bool,
    /// Leave out the stdlib modules nothing packed imports ([`stdlib`]).
    pub strip_stdlib: bool,
    /// Stdlib modules kept (with what they import) though nothing imports them by name.
    pub keep_stdlib: Vec<String>,
}

/// What was packed, for the summary line.
#[derive(Debug)]
pub struct Packed {
    pub size: u64,
    pub runtime_size: u64,
    pub files: stage::Count,
    pub argv: Vec<String>,
    /// With --strip-stdlib: the stdlib's modules before and after, and the ZIP's bytes.
    pub stdlib: Option<StdlibFigures>,
}

/// What --strip-stdlib left: modules before and kept, the ZIP's size before and after.
#[derive(Debug)]
pub struct StdlibFigures {
    pub modules: usize,
    pub kept: usize,
    pub bytes: (u64, u64),
}

/// Packs `opts.venv` (running `runtime`) and `opts.app` into `opts.out`, written whole and
/// renamed into place.
pub fn pack(
    opts: &Options,
    runtime: &Installed,
    settings: &EngineSettings,
) -> Result<Packed, Error> {
    let wasm = std::fs::read(&runtime.wasm).map_err(fsio::read_err(&runtime.wasm))?;
    if !vfs::packable(&wasm) {
        return Err(Error::NotPackable {
            id: runtime.manifest.id.clone(),
            default: crate::runtime::catalogue_entry(None)
                .map(|e| e.id.clone())
                .unwrap_or_else(|_| "ID".into()),
            reason: format!("its module has no embedded filesystem (a wasi-vfs `{}` export) or is not a command", vfs::PACK_EXPORT),
        });
    }
    let site = crate::venv::create::site_packages(&opts.venv, runtime);
    stage::check_site(&site, &opts.venv)?;
    if let App::Entry(entry) = &opts.app {
        require_installed(&site, &entry.project, &opts.venv)?;
    }
    let parent = opts
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Beside the output: the venv's python must see it to byte-compile (a sandboxed venv
    // maps the working directory, where the output usually goes).
    let staging = tempfile::Builder::new()
        .prefix(".wasipy-pack-")
        .tempdir_in(parent)
        .map_err(fsio::write_err(parent))?;
    let minor = runtime.minor_version();
    let (trees, files) = stage_all(opts, &site, staging.path(), minor)?;
    compile(&opts.venv, staging.path(), &trees, opts.keep_source)?;
    let zip = format!("{PREFIX}/lib/python{}.zip", minor.replace('.', ""));
    let stripped = match opts.strip_stdlib {
        true => Some(stdlib::strip(
            &opts.venv,
            staging.path(),
            &trees,
            &zip,
            &opts.keep_stdlib,
        )?),
        false => None,
    };
    let swap = stripped.as_ref().map(|s| &s.swap);
    let embedded = vfs::embed(&wasm, &trees, swap, settings).map_err(Error::Embed)?;
    let argv = opts.app.argv(minor, opts.keep_source);
    let out = argv::rewrite(&embedded, &argv).map_err(Error::Argv)?;
    fsio::write_atomically(&opts.out, &out)?;
    // A module to deploy, not a secret: readable like any file the user writes.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::Permissions::from_mode(0o644);
    std::fs::set_permissions(&opts.out, mode).map_err(fsio::write_err(&opts.out))?;
    Ok(Packed {
        size: out.len() as u64,
        runtime_size: wasm.len() as u64,
        files,
        argv,
        stdlib: stripped.map(|s| StdlibFigures {
            modules: s.modules,
            kept: s.kept,
            bytes: (s.swap.old.len() as u64, s.swap.new.len() as u64),
        }),
    })
}

/// Copies site-packages and the app into `staging`; returns the trees to embed and what
/// was copied.
fn stage_all(
    opts: &Options,
    site: &Path,
    staging: &Path,
    minor: &str,
) -> Result<(Vec<vfs::Tree>, stage::Count), Error> {
    let site_to = staging.join("site-packages");
    let mut count = stage::copy_site(site, &site_to)?;
    let app_to = staging.join("app");
    match (&opts.app, opts.app.dir()) {
        (App::Entry(entry), _) => {
            fsio::write_atomically(&app_to.join(&entry.name), entry.launcher().as_bytes())?;
        }
        (_, Some(dir)) => {
            let out = std::path::absolute(&opts.out).unwrap_or(opts.out.clone());
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            count += stage::copy_app(&dir, &app_to, &out)?;
        }
        _ => {}
    }
    for (name, text) in [PACKED_SHIM, PACKED_PTH] {
        fsio::write_atomically(&site_to.join(name), text.as_bytes())?;
    }
    // `/app` on sys.path for `-m` and console scripts, as the working directory is natively
    // (a script's own folder is there already).
    if !matches!(opts.app, App::Script(_)) {
        let pth = site_to.join("_wasipy_app.pth");
        fsio::write_atomically(&pth, format!("{APP_DIR}\n").as_bytes())?;
    }
    let mut trees = vec![vfs::Tree {
        host: site_to,
        guest: format!("{PREFIX}/lib/python{minor}/site-packages"),
    }];
    if app_to.is_dir() {
        trees.push(vfs::Tree {
            host: app_to,
            guest: APP_DIR.to_owned(),
        });
    }
    Ok((trees, count))
}

/// Byte-compiles the staged trees with the venv's own interpreter (the runtime's bytecode).
fn compile(
    venv: &Path,
    staging: &Path,
    trees: &[vfs::Tree],
    keep_source: bool,
) -> Result<(), Error> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if keep_source {
        args.push("--keep-source".into());
    }
    for tree in trees {
        args.extend([tree.host.clone().into(), tree.guest.clone().into()]);
    }
    guest::run(venv, staging, COMPILER, &args)
}

/// A console script's project must be installed (not editable: [`stage::check_site`]).
fn require_installed(site: &Path, project: &str, venv: &Path) -> Result<(), Error> {
    let want = app::normalize(project);
    let found = std::fs::read_dir(site)
        .map_err(fsio::read_err(site))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|n| n.strip_suffix(".dist-info").map(str::to_owned))
        .any(|n| app::normalize(n.split('-').next().unwrap_or("")) == want);
    match found {
        true => Ok(()),
        false => Err(Error::NotInstalled {
            project: project.to_owned(),
            venv: venv.to_owned(),
        }),
    }
}
