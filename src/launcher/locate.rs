//! Finding the venv from the path `python` was invoked by: argv[0] made absolute without
//! resolving symlinks (a bare name looked up on `PATH`), then `pyvenv.cfg` beside it or one
//! level up (PEP 405).

use crate::guest::mounts::normalize;
use crate::venv;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot find the interpreter `{argv0}` (not a path and not on PATH)")]
    NotLocated { argv0: PathBuf },
}

/// The invoked interpreter's absolute path and its venv.
///
/// The path is argv[0] as given, so a venv's `bin/python3 -> python` is judged where it
/// lies. If no `pyvenv.cfg` is there (a user's own symlink elsewhere), the link is followed
/// and the venv of its target is used, with the target as `sys.executable`. Last, the
/// running binary's own path (`/proc/self/exe`) is tried.
pub fn locate(
    argv0: &OsStr,
    cwd: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Result<(PathBuf, PathBuf), anyhow::Error> {
    let invoked = invoked_path(argv0, cwd, path_var).ok_or_else(|| Error::NotLocated {
        argv0: argv0.into(),
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
    let cwd = cwd.unwrap_or(Path::new("/"));
    if path.components().count() > 1 || path.is_absolute() {
        return Some(normalize(&cwd.join(path)));
    }
    which::which_in(argv0, path_var, cwd)
        .ok()
        .map(|p| normalize(&cwd.join(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

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

    fn executable(path: &Path) {
        std::fs::write(path, "").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn bare_names_come_from_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let python = bin.join("python3");
        executable(&python);
        let path_var = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        let got = invoked_path(OsStr::new("python3"), Some(tmp.path()), Some(&path_var));
        assert_eq!(got, Some(python));
        assert_eq!(
            invoked_path(OsStr::new("python9"), Some(tmp.path()), Some(&path_var)),
            None
        );
    }

    #[test]
    fn symlinked_pythons_are_judged_where_they_lie_then_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let venv = root.join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "wasipy-runtime = x\n").unwrap();
        executable(&venv.join("bin/python"));
        symlink("python", venv.join("bin/python3")).unwrap();
        let tools = root.join("tools");
        std::fs::create_dir(&tools).unwrap();
        symlink(venv.join("bin/python"), tools.join("python")).unwrap();
        let cases: &[(PathBuf, PathBuf)] = &[
            // The venv's own alias keeps its spelling: sys.executable is bin/python3.
            (venv.join("bin/python3"), venv.join("bin/python3")),
            // A user's link elsewhere is followed to its target's venv.
            (tools.join("python"), venv.join("bin/python")),
        ];
        for (invoked, exe) in cases {
            let (got_exe, got_venv) = locate(invoked.as_os_str(), Some(&root), None).unwrap();
            assert_eq!((&got_exe, &got_venv), (exe, &venv), "{}", invoked.display());
        }
    }
}
