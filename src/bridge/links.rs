//! Paths through absolute symlinks, resolved by the guest's view of the filesystem.
//!
//! cap-std (under wasmtime-wasi) refuses to follow a symlink whose target is absolute: in
//! general that would leave the directory it was given. But the guest's absolute paths are
//! the run's to interpret, so a path it refused is walked here component by component
//! through the run's mounts, an absolute target restarting the walk at the guest's root. In
//! a transparent venv, whose root is the host's, a path resolves as the host resolves it; in
//! a sandbox, a link that stays among the mounts works and one that leads out finds no mount.
//! The result names a mount and a path inside it with no symlink left to follow (but the
//! last component, when the call does not follow it), which wasmtime-wasi then opens with
//! its own checks, so a link swapped in meanwhile is still refused.

use super::fs::Table;
use cap_primitives::fs::{open_ambient_dir, read_link_contents, stat, FollowSymlinks};
use std::collections::HashMap;
use std::path::Path;

/// WASI errno `loop`: too many symlinks.
pub const ERRNO_LOOP: i32 = 32;
/// Symlinks a lookup may follow before `ELOOP`, as on Linux.
const MAX_LINKS: usize = 40;

/// Where a guest path leads: mount `mount` of the table, path `rel` inside it (`.` for its
/// root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub mount: usize,
    pub rel: String,
}

/// Resolves absolute guest path `guest`, following its last component if `follow_last`.
/// `Ok(None)`: it leads outside every mount (the caller keeps cap-std's refusal);
/// `Err(ERRNO_LOOP)`: more than 40 symlinks.
pub fn resolve(table: &Table, guest: &str, follow_last: bool) -> Result<Option<Resolved>, i32> {
    let mut walk = Walk {
        table,
        dirs: HashMap::new(),
    };
    // A trailing `/` (or `/.`) asks for a directory: the last name is followed.
    let follow_last = follow_last || guest.ends_with('/') || guest.ends_with("/.");
    let mut todo: Vec<String> = guest.split('/').rev().map(str::to_owned).collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(part),
        }
        let last = todo.iter().all(|p| p.is_empty() || p == ".");
        if last && !follow_last {
            continue;
        }
        let Some(target) = walk.link_target(&done) else {
            continue;
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(ERRNO_LOOP);
        }
        done.pop();
        if target.starts_with('/') {
            done.clear();
        }
        todo.extend(target.split('/').rev().map(str::to_owned));
    }
    let path = format!("/{}", done.join("/"));
    Ok(table.mount_of(&path).map(|(mount, rel)| Resolved {
        mount,
        rel: if rel.is_empty() { ".".to_owned() } else { rel },
    }))
}

/// The mounts' directories opened so far in one lookup.
struct Walk<'t> {
    table: &'t Table,
    dirs: HashMap<usize, Option<std::fs::File>>,
}

impl Walk<'_> {
    /// The target of the symlink at guest path `/parts...`, if it is one inside a mount.
    /// Looked up relative to the mount's directory with cap-std's rules, so nothing outside
    /// it is touched; every earlier component is already free of symlinks.
    fn link_target(&mut self, parts: &[String]) -> Option<String> {
        let (mount, rel) = self.table.mount_of(&format!("/{}", parts.join("/")))?;
        if rel.is_empty() {
            return None; // a mount's own root is where the guest was given it
        }
        let host = &self.table.mounts[mount].host;
        let dir = self
            .dirs
            .entry(mount)
            .or_insert_with(|| open_ambient_dir(host, cap_primitives::ambient_authority()).ok())
            .as_ref()?;
        let meta = stat(dir, Path::new(&rel), FollowSymlinks::No).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = read_link_contents(dir, Path::new(&rel)).ok()?;
        target.into_os_string().into_string().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::mounts::{Access, Mount};
    use std::os::unix::fs::symlink;

    fn mount(host: &Path, guest: &str) -> Mount {
        Mount {
            host: host.to_owned(),
            guest: guest.to_owned(),
            access: Access::ReadWrite,
        }
    }

    #[test]
    fn absolute_links_resolve_through_the_mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let (real, other) = (tmp.path().join("real"), tmp.path().join("other"));
        std::fs::create_dir_all(real.join("proj")).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(real.join("proj/f.txt"), "hi").unwrap();
        // Guest view: real at /data, other at /srv; host paths behind them differ.
        symlink("/data/proj", other.join("proj")).unwrap();
        symlink("/etc/passwd", other.join("out")).unwrap();
        symlink("/srv/loop2", other.join("loop1")).unwrap();
        symlink("/srv/loop1", other.join("loop2")).unwrap();
        symlink("../data/proj", other.join("relative")).unwrap();
        let table = Table {
            mounts: vec![mount(&real, "/data"), mount(&other, "/srv")],
            shadowed: Vec::new(),
        };
        let at = |mount, rel: &str| {
            Ok(Some(Resolved {
                mount,
                rel: rel.to_owned(),
            }))
        };
        type Outcome = Result<Option<Resolved>, i32>;
        let cases: &[(&str, bool, Outcome)] = &[
            ("/srv/proj/f.txt", true, at(0, "proj/f.txt")),
            ("/srv/proj", true, at(0, "proj")),
            ("/srv/proj", false, at(1, "proj")),
            ("/srv/proj/", false, at(0, "proj")),
            ("/srv/proj/../proj/./f.txt", false, at(0, "proj/f.txt")),
            ("/srv/proj/..", true, at(0, ".")),
            ("/srv/relative/f.txt", true, at(0, "proj/f.txt")),
            ("/srv/out", true, Ok(None)),
            ("/srv/out", false, at(1, "out")),
            ("/srv/loop1", true, Err(ERRNO_LOOP)),
            ("/srv/missing/x", true, at(1, "missing/x")),
            ("/elsewhere/x", true, Ok(None)),
        ];
        for (path, follow, expected) in cases {
            assert_eq!(&resolve(&table, path, *follow), expected, "{path} {follow}");
        }
    }

    #[test]
    fn the_embedded_filesystem_hides_what_is_under_it() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("/usr/local/lib/python3.12/os.py", tmp.path().join("os")).unwrap();
        let table = Table {
            mounts: vec![mount(tmp.path(), "/")],
            shadowed: vec!["/usr".to_owned()],
        };
        assert_eq!(resolve(&table, "/os", true), Ok(None));
    }
}
