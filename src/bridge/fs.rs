//! Filesystem requests WASI preview 1 cannot express (permission bits, owners), checked
//! against the run's mounts: a guest path is translated to its mount and the path inside
//! it, refused when the mount is read-only, and carried out relative to the mount's
//! directory handle, which no symlink can lead out of.

use super::errno;
use super::reply::{Failure, Reply};
use crate::guest::mounts::{normalize, Access, Mount};
use cap_primitives::ambient_authority;
use cap_primitives::fs::{
    open, open_ambient_dir, open_dir, set_permissions, OpenOptions, OpenOptionsExt, Permissions,
};
use serde_json::{json, Map, Value};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
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

    /// The mount behind absolute guest path `guest`, for a request that changes it: a handle
    /// on the mount's directory and the path inside it. The request is then carried out
    /// relative to that handle by cap-primitives, which refuses to leave it whatever the
    /// path's symlinks become meanwhile (no check-then-act on a host path).
    pub fn writable(&self, guest: &str) -> Result<(File, PathBuf), Failure> {
        if !guest.starts_with('/') || guest.contains('\0') {
            return Err(errno::os("EINVAL", "not an absolute path"));
        }
        let guest_path = normalize(Path::new(guest));
        let Some((index, rest)) = guest_path.to_str().and_then(|p| self.mount_of(p)) else {
            return Err(errno::os("EROFS", "not a host path"));
        };
        let mount = &self.mounts[index];
        if mount.access == Access::ReadOnly {
            return Err(errno::os("EROFS", "mapped read-only"));
        }
        let root = open_ambient_dir(&mount.host, ambient_authority()).map_err(|e| refused(&e))?;
        let rest = if rest.is_empty() { ".".into() } else { rest };
        Ok((root, PathBuf::from(rest)))
    }

    /// `fs.chmod`: meta `{path, mode}`; follows symlinks, as `os.chmod` does by default.
    pub fn chmod(&self, meta: &Map<String, Value>) -> Reply {
        let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
        let mode = meta
            .get("mode")
            .and_then(Value::as_u64)
            .ok_or_else(|| Failure::new("bad_request", "missing `mode`"))?;
        let (root, rest) = self.writable(guest)?;
        let perm = Permissions::from_std(std::fs::Permissions::from_mode(mode as u32 & 0o7777));
        set_permissions(&root, &rest, perm).map_err(|e| refused(&e))?;
        Ok((json!({}), Vec::new()))
    }

    /// `fs.chown`: meta `{path, uid, gid, follow}`; -1 leaves an id unchanged.
    pub fn chown(&self, meta: &Map<String, Value>) -> Reply {
        let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
        let id = |key: &str| {
            meta.get(key)
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .map_or(u32::MAX, |v| v as u32) // (uid_t)-1: unchanged
        };
        let follow = meta.get("follow").and_then(Value::as_bool).unwrap_or(true);
        let (root, rest) = self.writable(guest)?;
        let (dir, name, flags) = if follow {
            // The file the path leads to, resolved beneath the mount, held by an O_PATH handle.
            let mut options = OpenOptions::new();
            options.read(true).custom_flags(libc::O_PATH);
            let file = open(&root, &rest, &options).map_err(|e| refused(&e))?;
            (file, c"".to_owned(), libc::AT_EMPTY_PATH)
        } else {
            // The link itself: its directory resolved beneath the mount, then the last name.
            let parent = rest.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = open_dir(&root, parent.unwrap_or(Path::new("."))).map_err(|e| refused(&e))?;
            let name = rest.file_name().map_or(b".".as_slice(), |n| n.as_bytes());
            let name = std::ffi::CString::new(name).map_err(|_| errno::os("EINVAL", "bad name"))?;
            (dir, name, libc::AT_SYMLINK_NOFOLLOW)
        };
        // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string.
        let done =
            unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), id("uid"), id("gid"), flags) };
        if done != 0 {
            return Err(errno::from_io(&std::io::Error::last_os_error()));
        }
        Ok((json!({}), Vec::new()))
    }
}

/// A failed host call as the guest's error; a path that would leave its mount is `EACCES`.
fn refused(err: &std::io::Error) -> Failure {
    match err.raw_os_error() {
        None if err.kind() == std::io::ErrorKind::PermissionDenied => {
            errno::os("EACCES", "leaves its mapped directory")
        }
        _ => errno::from_io(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: Value) -> Map<String, Value> {
        pairs.as_object().unwrap().clone()
    }

    #[test]
    fn changes_land_inside_their_mount_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let [work, ro, outside, bin] = ["work", "ro", "outside", "bin"].map(|d| root.join(d));
        for dir in [&work, &ro, &outside, &bin] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("f"), "x").unwrap();
        }
        std::os::unix::fs::symlink(outside.join("f"), work.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, work.join("dirlink")).unwrap();
        std::os::unix::fs::symlink("f", work.join("near")).unwrap();
        let mount = |host: &Path, guest: &str, access| Mount {
            host: host.to_owned(),
            guest: guest.into(),
            access,
        };
        let table = Table {
            mounts: vec![
                mount(&work, "/w", Access::ReadWrite),
                mount(&ro, "/r", Access::ReadOnly),
                mount(&bin, "/usr/bin", Access::ReadWrite),
            ],
            shadowed: vec!["/usr".into()],
        };
        let outcome = |reply: Reply| match reply {
            Ok(_) => "ok".to_owned(),
            Err(f) => f.errno.unwrap_or("none").to_owned(),
        };
        let cases: &[(&str, &str)] = &[
            ("/w/f", "ok"),
            ("/w/../w/f", "ok"),
            ("/w/near", "ok"),
            ("/w", "ok"),
            ("/w/link", "EACCES"),
            ("/w/dirlink/f", "EACCES"),
            ("/w/../../etc/passwd", "EROFS"),
            ("/r/f", "EROFS"),
            ("/w/missing", "ENOENT"),
            ("/usr/local/lib/x", "EROFS"),
            ("/usr/bin/f", "ok"),
            ("relative", "EINVAL"),
            ("/w/f\0x", "EINVAL"),
        ];
        let me = unsafe { (libc::getuid(), libc::getgid()) };
        for (guest, expected) in cases {
            let chmod = table.chmod(&meta(json!({"path": guest, "mode": 0o640})));
            assert_eq!(outcome(chmod), *expected, "chmod {guest}");
            let chown = json!({"path": guest, "uid": me.0, "gid": me.1, "follow": true});
            assert_eq!(
                outcome(table.chown(&meta(chown))),
                *expected,
                "chown {guest}"
            );
        }
        use std::os::unix::fs::MetadataExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&work.join("f")), 0o640);
        assert_ne!(
            mode(&outside.join("f")),
            0o640,
            "a symlink led the chmod out"
        );
        // Not following: the link itself is changed, wherever it points.
        let lchown = json!({"path": "/w/link", "uid": me.0, "gid": -1, "follow": false});
        assert_eq!(outcome(table.chown(&meta(lchown))), "ok");
    }
}
