//! Creating a venv: the PEP 405 layout assembled beside its final place and renamed in,
//! the launcher linked in as `bin/python`, the guest shims, activation scripts,
//! `pyvenv.cfg` last, and pip unpacked from its wheel.

use super::pyvenv_cfg::{self, PyvenvCfg};
use super::{activation, bundled, pip, wheel, Error, Venv, KEY_NETWORK, KEY_RUNTIME, KEY_WASIPY};
use crate::fsio;
use crate::guest::sandbox;
use crate::runtime::{reactor, Installed};
use std::path::{Path, PathBuf};

/// Guest-side files copied into every venv's site-packages.
const SHIMS: &[(&str, &str)] = &[
    ("_wasipy.pth", include_str!("../../shims/_wasipy.pth")),
    (
        "_wasipy_shim.py",
        include_str!("../../shims/_wasipy_shim.py"),
    ),
    (
        "_wasipy_bridge.py",
        include_str!("../../shims/_wasipy_bridge.py"),
    ),
    (
        "_wasipy_compat.py",
        include_str!("../../shims/_wasipy_compat.py"),
    ),
    (
        "_wasipy_threads.py",
        include_str!("../../shims/_wasipy_threads.py"),
    ),
    (
        "_wasipy_subprocess.py",
        include_str!("../../shims/_wasipy_subprocess.py"),
    ),
    ("mmap.py", include_str!("../../shims/mmap.py")),
    ("pwd.py", include_str!("../../shims/pwd.py")),
    ("grp.py", include_str!("../../shims/grp.py")),
    ("_ctypes.py", include_str!("../../shims/_ctypes.py")),
    ("ctypes.py", include_str!("../../shims/ctypes.py")),
    (
        "_wasipy_socket.py",
        include_str!("../../shims/_wasipy_socket.py"),
    ),
    ("_wasipy_ssl.py", include_str!("../../shims/_wasipy_ssl.py")),
    ("_wasipy_tls.py", include_str!("../../shims/_wasipy_tls.py")),
    (
        "_wasipy_asyncio.py",
        include_str!("../../shims/_wasipy_asyncio.py"),
    ),
];

/// The names of the guest-side files every venv's site-packages gets (`wasipy pack` leaves
/// them out).
pub fn shim_names() -> impl Iterator<Item = &'static str> {
    SHIMS.iter().map(|(name, _)| *name)
}

/// How `wasipy venv` was asked to make the venv.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub dir: PathBuf,
    pub prompt: Option<String>,
    pub clear: bool,
    pub pip: pip::PipSource,
    /// The sandbox profile, with network access only to these hosts.
    pub sandbox: Option<Vec<String>>,
    /// Limits set explicitly (`pyvenv.cfg` pairs); the others keep the profile's defaults.
    pub limits: Vec<(&'static str, String)>,
}

/// Creates (or refreshes) a venv at `opts.dir` for `runtime`, with `launcher` as its python.
///
/// A new venv is assembled in a hidden sibling directory and renamed into place, so an
/// interrupted run leaves nothing behind; so is a `--clear`ed one. An existing wasipy venv
/// without `--clear` is refreshed in place (its installed packages stay), each file replaced
/// by rename, `pyvenv.cfg` last.
///
/// pip is installed as `opts.pip` says, unless the venv already has one; returns the venv
/// and the `pip-VERSION` installed, if any.
///
/// `cache_home` is where pip wheels are kept (wasipy's cache).
pub fn create(
    opts: &CreateOptions,
    runtime: &Installed,
    launcher: &Path,
    cache_home: &Path,
) -> Result<(Venv, Option<String>), Error> {
    let dir = std::path::absolute(&opts.dir).map_err(write_err(&opts.dir))?;
    let existing = inspect(&dir)?;
    // Fetch pip before touching anything, so a failure leaves nothing behind.
    let pip_wheel = pip::pip_wheel(&opts.pip, cache_home)?;
    if existing == Existing::Venv && !opts.clear {
        populate(&dir, &dir, runtime, launcher, opts)?;
        let pip = seed_pip(&dir, &dir, runtime, pip_wheel.as_deref())?;
        return Ok((Venv::open(&dir)?, pip));
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(write_err(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".wasipy-venv-")
        .tempdir_in(parent)
        .map_err(write_err(parent))?;
    populate(staging.path(), &dir, runtime, launcher, opts)?;
    let pip = seed_pip(staging.path(), &dir, runtime, pip_wheel.as_deref())?;
    if existing == Existing::Venv {
        let old = tempfile::Builder::new()
            .prefix(".wasipy-old-venv-")
            .tempdir_in(parent)
            .map_err(write_err(parent))?;
        std::fs::rename(&dir, old.path().join("venv")).map_err(write_err(&dir))?;
    }
    // rename(2) replaces an empty directory, which is what `Existing::Empty` is.
    std::fs::rename(staging.path(), &dir).map_err(write_err(&dir))?;
    let _ = staging.keep();
    Ok((Venv::open(&dir)?, pip))
}

/// Byte-compiles what `create` put in site-packages (pip and the shims), by running the new
/// venv's python once, as `python -m venv` compiles pip: otherwise every start compiles the
/// shims and every pip run compiles pip when bytecode cannot be written
/// (`PYTHONDONTWRITEBYTECODE`). If no compiled module is cached yet, the run compiles the
/// quick one and starts the background compile of the optimised one.
pub fn compile_site_packages(venv: &Venv, runtime: &Installed) -> Result<(), Error> {
    let python = venv.dir.join("bin/python");
    let site = site_packages(&venv.dir, runtime);
    let status = std::process::Command::new(&python)
        .args(["-I", "-m", "compileall", "-q"])
        .arg(&site)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(write_err(&python))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Compile {
            path: site,
            status: status.to_string(),
        })
    }
}

/// A venv's `lib/pythonX.Y/site-packages` for `runtime` (also what `wasipy pack` copies).
pub fn site_packages(root: &Path, runtime: &Installed) -> PathBuf {
    root.join("lib")
        .join(format!("python{}", runtime.minor_version()))
        .join("site-packages")
}

/// Installs pip from `wheel` into the venv being built at `root` (final place `final_dir`),
/// unless it already has a pip.
fn seed_pip(
    root: &Path,
    final_dir: &Path,
    runtime: &Installed,
    wheel_file: Option<&Path>,
) -> Result<Option<String>, Error> {
    let Some(wheel_file) = wheel_file else {
        return Ok(None);
    };
    let site = site_packages(root, runtime);
    let has_pip = std::fs::read_dir(&site)
        .map_err(write_err(&site))?
        .filter_map(Result::ok)
        .any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("pip-") && name.ends_with(".dist-info")
        });
    if has_pip {
        return Ok(None);
    }
    let target = wheel::Target {
        site_packages: site,
        bin: root.join("bin"),
        python: final_dir.join("bin").join("python"),
        minor: runtime.minor_version().to_owned(),
    };
    Ok(Some(wheel::install(wheel_file, &target)?))
}

#[derive(Debug, PartialEq, Eq)]
enum Existing {
    Nothing,
    Empty,
    Venv,
}

fn inspect(dir: &Path) -> Result<Existing, Error> {
    if !dir.exists() {
        return Ok(Existing::Nothing);
    }
    let cfg_path = dir.join(pyvenv_cfg::FILE_NAME);
    if cfg_path.is_file() {
        // Only ever replace a venv wasipy made: a damaged or foreign one is the user's call.
        let cfg = PyvenvCfg::read(&cfg_path)?;
        return match cfg.get(KEY_RUNTIME) {
            Some(_) => Ok(Existing::Venv),
            None => Err(Error::Foreign {
                path: dir.to_owned(),
            }),
        };
    }
    let empty = dir.is_dir()
        && std::fs::read_dir(dir)
            .map_err(write_err(dir))?
            .next()
            .is_none();
    if empty {
        Ok(Existing::Empty)
    } else {
        Err(Error::NotAVenv {
            path: dir.to_owned(),
        })
    }
}

/// Writes the venv's files into `root`, which will live at `final_dir`.
fn populate(
    root: &Path,
    final_dir: &Path,
    runtime: &Installed,
    launcher: &Path,
    opts: &CreateOptions,
) -> Result<(), Error> {
    let minor = runtime.minor_version();
    let bin = root.join("bin");
    let site = site_packages(root, runtime);
    for dir in [&bin, &site] {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    install_launcher(launcher, &bin.join("python"))?;
    for alias in ["python3".to_owned(), format!("python{minor}")] {
        replace_symlink("python", &bin.join(alias))?;
    }
    for (name, text) in SHIMS {
        write_file(&site.join(name), text.as_bytes())?;
    }
    write_file(&root.join(".gitignore"), b"# created by wasipy\n*\n")?;
    if let Some(r) = &runtime.manifest.reactor {
        let zip = reactor::zip_file(&runtime.dir, r);
        let pins = bundled::pins(&zip)?;
        bundled::write(root, final_dir, &runtime.manifest.id, &pins)?;
        write_file(&site.join(reactor::MAIN_FILE), reactor::MAIN.as_bytes())?;
    }
    let prompt = opts
        .prompt
        .clone()
        .unwrap_or_else(|| default_prompt(final_dir));
    for (name, text) in activation::render_all(final_dir, &prompt) {
        write_file(&bin.join(name), text.as_bytes())?;
    }
    let mut pairs = vec![
        ("home", runtime.guest_home()),
        ("implementation", "CPython".to_owned()),
        ("version", runtime.manifest.python_version.clone()),
        ("include-system-site-packages", "false".to_owned()),
        ("prompt", prompt),
        (KEY_WASIPY, env!("CARGO_PKG_VERSION").to_owned()),
        (KEY_RUNTIME, runtime.manifest.id.clone()),
    ];
    if let Some(hosts) = &opts.sandbox {
        let network = if hosts.is_empty() {
            "off".to_owned()
        } else {
            hosts.join(", ")
        };
        pairs.push((sandbox::KEY_SANDBOX, "true".to_owned()));
        pairs.push((KEY_NETWORK, network));
        pairs.push((sandbox::KEY_MOUNTS, String::new()));
        pairs.push((sandbox::KEY_ENV, String::new()));
    }
    pairs.extend(opts.limits.iter().cloned());
    let mut cfg = PyvenvCfg::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    if root == final_dir {
        keep_settings(&mut cfg, &root.join(pyvenv_cfg::FILE_NAME));
    }
    write_file(&root.join(pyvenv_cfg::FILE_NAME), cfg.render().as_bytes())
}

/// A venv refreshed in place keeps the settings it was given (sandbox, mounts, network,
/// limits, or edited in by hand) that this run does not set; `--clear` starts afresh.
fn keep_settings(cfg: &mut PyvenvCfg, old: &Path) {
    let Ok(old) = PyvenvCfg::read(old) else {
        return;
    };
    for (key, value) in old.entries() {
        let ours = key.starts_with("wasipy-") && key != KEY_RUNTIME;
        // `wasipy-mounts` and `wasipy-env` are written empty as a place to fill in.
        if ours && cfg.get(key).is_none_or(str::is_empty) {
            cfg.set(key, value);
        }
    }
}

/// The prompt CPython's venv uses by default: the directory's name.
fn default_prompt(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "venv".to_owned())
}

/// Hard-links the launcher into the venv (a copy across filesystems), so the venv keeps
/// working if wasipy is moved or rebuilt. Replaces any previous one by rename.
fn install_launcher(launcher: &Path, dest: &Path) -> Result<(), Error> {
    let tmp = dest.with_file_name(".python.wasipy-tmp");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(launcher, &tmp).is_err() {
        std::fs::copy(launcher, &tmp).map_err(write_err(&tmp))?;
    }
    std::fs::rename(&tmp, dest).map_err(write_err(dest))
}

fn replace_symlink(target: &str, link: &Path) -> Result<(), Error> {
    let tmp = link.with_file_name(".link.wasipy-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(write_err(&tmp))?;
    std::fs::rename(&tmp, link).map_err(write_err(link))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    Ok(fsio::write_atomically(path, bytes)?)
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| fsio::write_err(path)(source).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_refuses_non_venvs() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(inspect(&tmp.path().join("new")).unwrap(), Existing::Nothing);
        assert_eq!(inspect(tmp.path()).unwrap(), Existing::Empty);
        std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
        assert!(matches!(inspect(tmp.path()), Err(Error::NotAVenv { .. })));
        std::fs::write(tmp.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert!(matches!(inspect(tmp.path()), Err(Error::Foreign { .. })));
        std::fs::write(tmp.path().join("pyvenv.cfg"), "wasipy-runtime = x\n").unwrap();
        assert_eq!(inspect(tmp.path()).unwrap(), Existing::Venv);
    }
}
