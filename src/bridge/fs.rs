//! Filesystem requests WASI preview 1 cannot express (setting permission bits), checked
//! against the run's mounts: a guest path is translated to the host path behind it, and
//! the request is refused when that path (after following symlinks) leaves the mount or
//! the mount is read-only.

use super::errno;
use super::reply::{Failure, Reply};
use crate::guest::mounts::{normalize, Access, Mount};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The guest's view of the host filesystem.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub mounts: Vec<Mount>,
    /// Guest directories owned by the runtime's embedded filesystem: nothing on the host
    /// stands behind them unless a mount inside them says so.
    pub shadowed: Vec<String>,
}

/// wasmtime-wasi numbers preopens from 3 in the order they were added: the mounts', in order.
pub const FIRST_PREOPEN: u32 = 3;

impl Table {
    /// The mount behind normalized absolute guest path `guest` (the longest that holds it,
    /// unless the runtime's embedded filesystem claims the path) and the path inside it.
    pub fn mount_of(&self, guest: &str) -> Option<(usize, String)> {
        let guest = Path::new(guest);
        let (index, mount) = self
            .mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| guest.starts_with(&m.guest))
            .max_by_key(|(_, m)| m.guest.len())?;
        let shadow = self
            .shadowed
            .iter()
            .filter(|s| guest.starts_with(s))
            .map(String::len)
            .max();
        if shadow.is_some_and(|s| mount.guest.len() <= s) {
            return None;
        }
        let rest = guest.strip_prefix(&mount.guest).ok()?;
        Some((index, rest.to_str()?.to_owned()))
    }

    /// The mount whose preopen is wasmtime descriptor `fd`.
    pub fn mount_at(&self, fd: i32) -> Option<usize> {
        let index = u32::try_from(fd).ok()?.checked_sub(FIRST_PREOPEN)? as usize;
        (index < self.mounts.len()).then_some(index)
    }

    /// The host path behind absolute guest path `guest`, for a request that changes it.
    pub fn writable_host_path(&self, guest: &str) -> Result<PathBuf, Failure> {
        if !guest.starts_with('/') || guest.contains('\0') {
            return Err(errno::os("EINVAL", "not an absolute path"));
        }
        let guest_path = normalize(Path::new(guest));
        let Some((index, rest)) = guest_path.to_str().and_then(|p| self.mount_of(p)) else {
            return Err(errno::os("EROFS", "not a host path"));
        };
        let mount = &self.mounts[index];
        let host = mount.host.join(rest);
        let real = std::fs::canonicalize(&host).map_err(|e| errno::from_io(&e))?;
        let root = std::fs::canonicalize(&mount.host).map_err(|e| errno::from_io(&e))?;
        if !real.starts_with(&root) {
            return Err(errno::os("EACCES", "leaves its mapped directory"));
        }
        if mount.access == Access::ReadOnly {
            return Err(errno::os("EROFS", "mapped read-only"));
        }
        Ok(real)
    }

    /// `fs.chmod`: meta `{path, mode}`; follows symlinks, as `os.chmod` does by default.
    pub fn chmod(&self, meta: &Map<String, Value>) -> Reply {
        let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
        let mode = meta
            .get("mode")
            .and_then(Value::as_u64)
            .ok_or_else(|| Failure::new("bad_request", "missing `mode`"))?;
        let host = self.writable_host_path(guest)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode as u32 & 0o7777))
            .map_err(|e| errno::from_io(&e))?;
        Ok((json!({}), Vec::new()))
    }
}

impl Table {
    /// `fs.chown`: meta `{path, uid, gid, follow}`; -1 leaves an id unchanged.
    pub fn chown(&self, meta: &Map<String, Value>) -> Reply {
        let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
        let id = |key: &str| {
            meta.get(key)
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .map(|v| v as u32)
        };
        let follow = meta.get("follow").and_then(Value::as_bool).unwrap_or(true);
        let host = if follow {
            self.writable_host_path(guest)?
        } else {
            // The link itself: check its directory, then name the link.
            let (dir, name) = guest.rsplit_once('/').unwrap_or(("", guest));
            self.writable_host_path(if dir.is_empty() { "/" } else { dir })?
                .join(name)
        };
        let result = if follow {
            std::os::unix::fs::chown(&host, id("uid"), id("gid"))
        } else {
            std::os::unix::fs::lchown(&host, id("uid"), id("gid"))
        };
        result.map_err(|e| errno::from_io(&e))?;
        Ok((json!({}), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_resolve_inside_their_mount_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let work = root.join("work");
        let ro = root.join("ro");
        let outside = root.join("outside");
        for dir in [&work, &ro, &outside] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("f"), "x").unwrap();
        }
        std::os::unix::fs::symlink(outside.join("f"), work.join("link")).unwrap();
        let table = Table {
            mounts: vec![
                Mount {
                    host: work.clone(),
                    guest: "/w".into(),
                    access: Access::ReadWrite,
                },
                Mount {
                    host: ro.clone(),
                    guest: "/r".into(),
                    access: Access::ReadOnly,
                },
                Mount {
                    host: outside.clone(),
                    guest: "/usr/bin".into(),
                    access: Access::ReadWrite,
                },
            ],
            shadowed: vec!["/usr".into()],
        };
        let kind = |guest: &str| match table.writable_host_path(guest) {
            Ok(path) => path.to_string_lossy().into_owned(),
            Err(f) => f.errno.unwrap().to_owned(),
        };
        let cases: &[(&str, String)] = &[
            ("/w/f", work.join("f").to_string_lossy().into_owned()),
            ("/w/../w/f", work.join("f").to_string_lossy().into_owned()),
            ("/w/link", "EACCES".into()),
            ("/w/../../etc/passwd", "EROFS".into()),
            ("/r/f", "EROFS".into()),
            ("/w/missing", "ENOENT".into()),
            ("/usr/local/lib/x", "EROFS".into()),
            (
                "/usr/bin/f",
                outside.join("f").to_string_lossy().into_owned(),
            ),
            ("relative", "EINVAL".into()),
            ("/w/f\0x", "EINVAL".into()),
        ];
        for (guest, expected) in cases {
            assert_eq!(&kind(guest), expected, "{guest}");
        }
    }
}
