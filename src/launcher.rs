//! The venv's `python`: finds its venv from the path it was invoked by, loads the venv's
//! runtime and runs CPython-WASI with the host's argv, environment, stdio and filesystem.

use crate::cmdline::{self, Target};
use crate::engine::{self, Guest, Timer};
use crate::runtime::Store;
use crate::venv::{self, Venv};
use crate::{bridge, dirs};
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

/// Private variables for the guest shim (`shims/_wasipy_shim.py`), removed there.
pub const CWD_VAR: &str = "__WASIPY_CWD";
pub const SCRIPT_VAR: &str = "__WASIPY_SCRIPT";
pub const HOST_VAR: &str = "__WASIPY_HOST";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("argument {index} is not valid UTF-8 ({arg:?}); WASI passes arguments as UTF-8 text")]
    NonUtf8Arg { index: usize, arg: OsString },
    #[error("cannot find the interpreter `{argv0}` (not a path and not on PATH)")]
    NotLocated { argv0: PathBuf },
}

pub fn main(argv0: &OsStr, args: Vec<OsString>) -> anyhow::Result<i32> {
    let timer = Timer::from_env();
    let cwd = std::env::current_dir().ok();
    let (exe, venv_dir) = locate(argv0, cwd.as_deref())?;
    let venv = Venv::open(&venv_dir)?;
    let store = Store::from_env()?;
    let runtime = store.load(venv.runtime_id()?)?;
    let args = utf8_args(args)?;
    timer.mark("venv and runtime located");
    let cache = dirs::cache_home()?;
    let embedded = embedded(&runtime.manifest);
    let guest = Guest {
        argv: Vec::new(),
        env: host_env(),
        mounts: crate::local::runtime_mounts(&runtime.manifest, &runtime.dir, embedded.as_ref()),
        bridge: None,
    };
    let mut guest = plan(guest, &exe, &args, cwd.as_deref());
    // Kept until the run ends: the sandbox's private temp dir.
    let _sandbox_tmp = if venv.sandboxed() {
        Some(sandbox(&mut guest, &venv, cwd.as_deref(), &runtime)?)
    } else {
        None
    };
    guest.bridge = Some(bridge::Config {
        host_dir: cache.join("bridge"),
        network: venv.network(),
        fs: bridge::fs::Table {
            mounts: guest.mounts.clone(),
            shadowed: embedded.map(|e| vec![e.root]).unwrap_or_default(),
        },
    });
    guest.env.push((HOST_VAR.to_owned(), host_facts()));
    engine::handle_sigint();
    let code = engine::load(&runtime, &cache, &timer)?;
    match engine::run(&code, guest, &timer) {
        Ok(code) => {
            if code == engine::INTERRUPTED_EXIT && engine::interrupted() {
                eprintln!("KeyboardInterrupt");
            }
            Ok(code)
        }
        Err(err) => {
            eprintln!("wasipy: {err}");
            Ok(err.exit_code())
        }
    }
}

/// Narrows `guest` to the sandbox profile: only the venv, the working directory, the
/// script's directory, a private temp dir and the listed mounts; only allowed variables.
fn sandbox(
    guest: &mut Guest,
    venv: &Venv,
    cwd: Option<&Path>,
    runtime: &crate::runtime::Installed,
) -> anyhow::Result<tempfile::TempDir> {
    use crate::sandbox as sb;
    let tmp = sb::temp_dir()?;
    let from_env = std::env::var(sb::MOUNTS_VAR).unwrap_or_default();
    let mut extra = sb::parse_mounts(venv.cfg.get(sb::KEY_MOUNTS).unwrap_or(""))?;
    extra.extend(sb::parse_mounts(&from_env)?);
    // The runtime's own on-disk stdlib, if it has one.
    extra.extend(crate::local::stdlib_mount(&runtime.manifest, &runtime.dir));
    let script = sb::script_path(&guest.argv);
    guest.mounts = sb::mounts(sb::Plan {
        venv: &venv.dir,
        cwd,
        script: script.as_deref(),
        tmp: tmp.path(),
        extra,
    });
    let env_extra = std::env::var(sb::ENV_VAR).unwrap_or_default();
    let allow = sb::env_allow_list(&[venv.cfg.get(sb::KEY_ENV).unwrap_or(""), &env_extra]);
    let private: Vec<(String, String)> = guest
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("__WASIPY_"))
        .cloned()
        .collect();
    guest.env = sb::filter_env(std::mem::take(&mut guest.env), &allow);
    guest.env.extend(private);
    Ok(tmp)
}

/// The runtime's embedded filesystem: from its manifest, or for manifests written before
/// wasipy recorded it, from the catalogue.
fn embedded(manifest: &crate::runtime::Manifest) -> Option<crate::catalogue::Embedded> {
    manifest.embedded.clone().or_else(|| {
        crate::catalogue::get()
            .find(&manifest.id)
            .and_then(|entry| entry.embedded.clone())
    })
}

/// Fills in the guest's argv and the shim's variables: argv[0] is the absolute host path of
/// the invoked python (CPython derives `sys.executable` and the venv from it), a relative
/// script path is made absolute (the guest starts at `/`), everything else passes unchanged.
pub fn plan(mut guest: Guest, exe: &Path, args: &[String], cwd: Option<&Path>) -> Guest {
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(exe.to_string_lossy().into_owned());
    argv.extend(args.iter().cloned());
    if let (Target::Script(index), Some(cwd)) = (cmdline::target(args), cwd) {
        let script = &args[index];
        if !script.starts_with('/') {
            argv[index + 1] = cwd.join(script).to_string_lossy().into_owned();
            guest.env.push((SCRIPT_VAR.to_owned(), script.clone()));
        }
    }
    if let Some(cwd) = cwd.and_then(Path::to_str) {
        guest.env.push((CWD_VAR.to_owned(), cwd.to_owned()));
    }
    guest.argv = argv;
    guest
}

/// The host environment, minus variables that are not UTF-8 (WASI cannot carry them) and
/// stale private ones.
fn host_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| ![CWD_VAR, SCRIPT_VAR, HOST_VAR].contains(&k.as_str()))
        .collect()
}

/// What WASI cannot ask the host: `uid,euid,gid,egid,umask,columns,lines` (columns and
/// lines are 0 without a terminal). Read by `shims/_wasipy_shim.py`.
pub fn host_facts() -> String {
    // SAFETY: plain libc queries; umask is set back at once, before any thread starts.
    let (uid, euid, gid, egid, umask) = unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
            mask,
        )
    };
    let (columns, lines) = terminal_size().unwrap_or((0, 0));
    format!("{uid},{euid},{gid},{egid},{umask},{columns},{lines}")
}

/// The size of the terminal on stdout, stderr or stdin, whichever is one.
fn terminal_size() -> Option<(u16, u16)> {
    [1, 2, 0].into_iter().find_map(|fd| {
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize; failure leaves it zeroed.
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0).then_some((size.ws_col, size.ws_row))
    })
}

fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, Error> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            arg.into_string()
                .map_err(|arg| Error::NonUtf8Arg { index: i + 1, arg })
        })
        .collect()
}

/// The invoked interpreter's absolute path and its venv.
///
/// The path is argv[0] as given (a bare name is looked up on PATH), made absolute without
/// resolving symlinks, so a venv's `bin/python3 -> python` is judged where it lies. If no
/// `pyvenv.cfg` is there (a user's own symlink elsewhere), the link is followed and the venv
/// of its target is used, with the target as `sys.executable`. Last, the running binary's
/// own path (`/proc/self/exe`) is tried.
pub fn locate(argv0: &OsStr, cwd: Option<&Path>) -> Result<(PathBuf, PathBuf), anyhow::Error> {
    let invoked =
        invoked_path(argv0, cwd, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
            Error::NotLocated {
                argv0: argv0.into(),
            }
        })?;
    if let Some(venv) = venv::venv_of(&invoked) {
        return Ok((invoked, venv));
    }
    let resolved = std::fs::canonicalize(&invoked).ok();
    let current = std::env::current_exe().ok();
    for candidate in [resolved, current].into_iter().flatten() {
        if let Some(venv) = venv::venv_of(&candidate) {
            return Ok((candidate, venv));
        }
    }
    Err(venv::Error::NotFound { exe: invoked }.into())
}

/// argv[0] as an absolute path, without resolving symlinks.
pub fn invoked_path(
    argv0: &OsStr,
    cwd: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Option<PathBuf> {
    let path = Path::new(argv0);
    if argv0.is_empty() {
        return None;
    }
    if path.components().count() > 1 || path.is_absolute() {
        return Some(normalize(&cwd.unwrap_or(Path::new("/")).join(path)));
    }
    let cwd = cwd.unwrap_or(Path::new("/"));
    which::which_in(argv0, path_var, cwd)
        .ok()
        .map(|p| normalize(&cwd.join(p)))
}

/// Lexical normalisation, like `os.path.abspath`: drops `.` and folds `..` (never above
/// the root).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_argv_and_shim_variables() {
        let exe = Path::new("/w/.venv/bin/python");
        let cwd = Some(Path::new("/w/proj"));
        let cases: &[(&[&str], &[&str], Option<&str>)] = &[
            (
                &["app.py", "a b"],
                &["/w/.venv/bin/python", "/w/proj/app.py", "a b"],
                Some("app.py"),
            ),
            (
                &["-u", "sub/app.py"],
                &["/w/.venv/bin/python", "-u", "/w/proj/sub/app.py"],
                Some("sub/app.py"),
            ),
            (
                &["/abs/app.py"],
                &["/w/.venv/bin/python", "/abs/app.py"],
                None,
            ),
            (
                &["-c", "pass", "x.py"],
                &["/w/.venv/bin/python", "-c", "pass", "x.py"],
                None,
            ),
            (
                &["-m", "json.tool", "d.json"],
                &["/w/.venv/bin/python", "-m", "json.tool", "d.json"],
                None,
            ),
        ];
        for (given, argv, script) in cases {
            let guest = plan(Guest::default(), exe, &args(given), cwd);
            assert_eq!(guest.argv, args(argv), "{given:?}");
            let env_script = guest
                .env
                .iter()
                .find(|(k, _)| k == SCRIPT_VAR)
                .map(|(_, v)| v.as_str());
            assert_eq!(env_script, *script, "{given:?}");
            assert!(guest
                .env
                .contains(&(CWD_VAR.to_owned(), "/w/proj".to_owned())));
        }
    }

    #[test]
    fn invoked_paths_are_absolute_and_unresolved() {
        let cwd = Some(Path::new("/w/proj"));
        let cases: &[(&str, Option<&str>)] = &[
            ("/w/.venv/bin/python", Some("/w/.venv/bin/python")),
            (".venv/bin/python", Some("/w/proj/.venv/bin/python")),
            ("./../.venv/bin/python3", Some("/w/.venv/bin/python3")),
            ("", None),
        ];
        for (argv0, expected) in cases {
            let got = invoked_path(OsStr::new(argv0), cwd, None);
            assert_eq!(got, expected.map(PathBuf::from), "{argv0}");
        }
    }

    #[test]
    fn bare_names_come_from_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let python = bin.join("python3");
        std::fs::write(&python, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        let got = invoked_path(OsStr::new("python3"), Some(tmp.path()), Some(&path_var));
        assert_eq!(got, Some(python));
        assert_eq!(
            invoked_path(OsStr::new("python9"), Some(tmp.path()), Some(&path_var)),
            None
        );
    }
}
