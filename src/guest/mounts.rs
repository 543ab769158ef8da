//! Which host directories the guest sees and where: plain `HOST::GUEST` data, applied to the
//! WASI context in one place (`engine::run`), and the lexical path arithmetic on them.

use std::path::{Component, Path, PathBuf};

/// Whether the guest may change what is under a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
    pub access: Access,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("mount `{spec}`: expected `HOST[::GUEST][:ro|:rw]` with absolute paths")]
    Syntax { spec: String },
}

impl Mount {
    /// Parses `HOST[::GUEST][:ro|:rw]` (wasmtime's `--dir` syntax plus an access suffix).
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let syntax = || Error::Syntax {
            spec: spec.to_owned(),
        };
        let (paths, access) = match spec.rsplit_once(':') {
            Some((rest, "ro")) if !rest.ends_with(':') => (rest, Access::ReadOnly),
            Some((rest, "rw")) if !rest.ends_with(':') => (rest, Access::ReadWrite),
            _ => (spec, Access::ReadWrite),
        };
        let (host, guest) = paths.split_once("::").unwrap_or((paths, paths));
        if !host.starts_with('/') || !guest.starts_with('/') {
            return Err(syntax());
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            access,
        })
    }
}

/// The default, transparent profile: the host's root is the guest's root, read-write, so
/// every host path means the same thing inside the guest (CPython's own WASI runner does
/// the same).
///
/// A runtime with an embedded filesystem claims a whole directory (`/usr`) in the guest's
/// path lookup (the longest preopen prefix wins). So each host entry of that directory
/// which does not lead to the embedded content (`/usr/bin`, `/usr/share`, `/usr/local/bin`,
/// but not `/usr/local/lib`) is mapped in again, one preopen each.
///
/// `claimed` is that directory and the paths under it that the embedded content owns.
pub fn transparent(claimed: Option<(&str, &[String])>) -> Vec<Mount> {
    let mut mounts = vec![rw(Path::new("/"))];
    if let Some((root, paths)) = claimed {
        let owned: Vec<&Path> = paths.iter().map(Path::new).collect();
        reexpose(Path::new(root), &owned, &mut mounts);
    }
    mounts
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

fn rw(path: &Path) -> Mount {
    Mount {
        host: path.to_owned(),
        guest: path.to_string_lossy().into_owned(),
        access: Access::ReadWrite,
    }
}

/// Maps the host entries of `dir` back in, except `owned` paths; descends into entries
/// that contain an owned path.
fn reexpose(dir: &Path, owned: &[&Path], mounts: &mut Vec<Mount>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    for path in paths {
        if owned.contains(&path.as_path()) {
            continue;
        }
        if owned.iter().any(|o| o.starts_with(&path)) {
            reexpose(&path, owned, mounts);
        } else if path.is_dir() {
            mounts.push(rw(&path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case<'a> = (&'a str, Option<(&'a str, &'a str, Access)>);

    #[test]
    fn parses_specs() {
        let rw = Access::ReadWrite;
        let ro = Access::ReadOnly;
        let cases: &[Case] = &[
            ("/data", Some(("/data", "/data", rw))),
            ("/data::/mnt", Some(("/data", "/mnt", rw))),
            ("/data::/mnt:ro", Some(("/data", "/mnt", ro))),
            ("/data:ro", Some(("/data", "/data", ro))),
            ("/data:rw", Some(("/data", "/data", rw))),
            ("data", None),
            ("/data::mnt", None),
            ("", None),
        ];
        for (spec, expected) in cases {
            let got = Mount::parse(spec).ok().map(|m| (m.host, m.guest, m.access));
            let expected = expected.map(|(h, g, a)| (PathBuf::from(h), g.to_owned(), a));
            assert_eq!(got, expected, "{spec}");
        }
    }

    #[test]
    fn transparent_maps_root_read_write() {
        let mounts = transparent(None);
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].host, PathBuf::from("/"));
        assert_eq!(mounts[0].guest, "/");
        assert_eq!(mounts[0].access, Access::ReadWrite);
    }

    #[test]
    fn host_entries_beside_the_embedded_filesystem_are_mapped_back() {
        let tmp = tempfile::tempdir().unwrap();
        let usr = tmp.path().join("usr");
        for dir in [
            "bin",
            "share/doc",
            "local/bin",
            "local/lib/python3.11",
            "local/share",
        ] {
            std::fs::create_dir_all(usr.join(dir)).unwrap();
        }
        std::fs::write(usr.join("README"), "a file is not a mount").unwrap();
        let root = usr.to_string_lossy().into_owned();
        let owned = vec![usr.join("local/lib").to_string_lossy().into_owned()];
        let guests: Vec<String> = transparent(Some((&root, &owned)))
            .into_iter()
            .map(|m| {
                assert_eq!(m.host, PathBuf::from(&m.guest));
                m.guest
            })
            .collect();
        let under = |p: &str| usr.join(p).to_string_lossy().into_owned();
        let expected = vec![
            "/".to_owned(),
            under("bin"),
            under("local/bin"),
            under("local/share"),
            under("share"),
        ];
        assert_eq!(guests, expected);
    }

    #[test]
    fn normalizes_lexically() {
        for (path, expected) in [
            ("/a/./b/../c", "/a/c"),
            ("/../x", "/x"),
            ("/a/b/../../..", "/"),
            ("/a//b/", "/a/b"),
        ] {
            assert_eq!(
                normalize(Path::new(path)),
                PathBuf::from(expected),
                "{path}"
            );
        }
    }
}
