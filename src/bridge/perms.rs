//! Filesystem requests WASI preview 1 cannot express (permission bits, owners), checked
//! against the run's mounts: a guest path is translated to its mount and the path inside
//! it, refused when the mount is read-only, and carried out relative to the mount's
//! directory handle by cap-primitives, which no symlink can lead out of, even one swapped
//! in mid-call (no check-then-act on a host path).

use super::errno;
use super::fs::Table;
use super::links;
use super::reply::{Failure, Reply};
use crate::guest::mounts::{normalize, Access};
use cap_primitives::ambient_authority;
use cap_primitives::fs::{
    open, open_ambient_dir, open_dir, set_permissions, OpenOptions, OpenOptionsExt, Permissions,
};
use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `fs.chmod`: meta `{path, mode}`; follows symlinks, as `os.chmod` does by default.
pub fn chmod(table: &Table, meta: &Map<String, Value>) -> Reply {
    let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
    let mode = meta
        .get("mode")
        .and_then(Value::as_u64)
        .ok_or_else(|| Failure::new("bad_request", "missing `mode`"))?;
    let mode = mode as u32 & 0o7777;
    on_host(table, guest, true, |root, rest| {
        let perm = Permissions::from_std(std::fs::Permissions::from_mode(mode));
        set_permissions(root, rest, perm)
    })?;
    Ok((json!({}), Vec::new()))
}

/// `fs.chown`: meta `{path, uid, gid, follow}`; -1 leaves an id unchanged.
pub fn chown(table: &Table, meta: &Map<String, Value>) -> Reply {
    let guest = meta.get("path").and_then(Value::as_str).unwrap_or("");
    let id = |key: &str| {
        meta.get(key)
            .and_then(Value::as_i64)
            .filter(|v| *v >= 0)
            .map_or(u32::MAX, |v| v as u32) // (uid_t)-1: unchanged
    };
    let (uid, gid) = (id("uid"), id("gid"));
    let follow = meta.get("follow").and_then(Value::as_bool).unwrap_or(true);
    on_host(table, guest, follow, |root, rest| {
        let (dir, name, flags) = if follow {
            // The file the path leads to, resolved beneath the mount, held by an O_PATH handle.
            let mut options = OpenOptions::new();
            options.read(true).custom_flags(libc::O_PATH);
            (
                open(root, rest, &options)?,
                CString::default(),
                libc::AT_EMPTY_PATH,
            )
        } else {
            // The link itself: its directory resolved beneath the mount, then the last name.
            let parent = rest.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = open_dir(root, parent.unwrap_or(Path::new(".")))?;
            let name = rest.file_name().map_or(b".".as_slice(), |n| n.as_bytes());
            (dir, CString::new(name)?, libc::AT_SYMLINK_NOFOLLOW)
        };
        // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string.
        let done = unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), uid, gid, flags) };
        match done {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    })?;
    Ok((json!({}), Vec::new()))
}

/// Runs `op` on the path behind absolute guest path `guest`, relative to its mount's
/// directory. A path cap-primitives refuses (an absolute symlink on the way: it cannot tell
/// where one lands) is resolved by the guest's view ([`links::resolve`]) and tried once
/// more, again beneath the handle of the mount it lands in.
fn on_host(
    table: &Table,
    guest: &str,
    follow: bool,
    op: impl Fn(&File, &Path) -> std::io::Result<()>,
) -> Result<(), Failure> {
    if !guest.starts_with('/') || guest.contains('\0') {
        return Err(errno::os("EINVAL", "not an absolute path"));
    }
    let guest = normalize(Path::new(guest));
    let guest = guest.to_str().unwrap_or_default();
    let Some((mount, rest)) = table.mount_of(guest) else {
        return Err(errno::os("EROFS", "not a host path"));
    };
    let err = match beneath(table, mount, &rest, &op) {
        Err(err) if escapes(&err) => err,
        done => return done.map_err(|e| refused(&e)),
    };
    match links::resolve(table, guest, follow) {
        Ok(Some(found)) => beneath(table, found.mount, &found.rel, &op).map_err(|e| refused(&e)),
        Ok(None) => Err(refused(&err)),
        Err(_) => Err(errno::os("ELOOP", "Too many levels of symbolic links")),
    }
}

/// `op` on `rest` beneath mount `index`, unless the mount is read-only.
fn beneath(
    table: &Table,
    index: usize,
    rest: &str,
    op: &impl Fn(&File, &Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mount = &table.mounts[index];
    if mount.access == Access::ReadOnly {
        return Err(std::io::Error::from_raw_os_error(libc::EROFS));
    }
    let root = open_ambient_dir(&mount.host, ambient_authority())?;
    op(&root, Path::new(if rest.is_empty() { "." } else { rest }))
}

/// cap-primitives' refusal of a path that would leave its directory (no OS errno).
fn escapes(err: &std::io::Error) -> bool {
    err.raw_os_error().is_none() && err.kind() == std::io::ErrorKind::PermissionDenied
}

/// A failed host call as the guest's error; a path that would leave its mount is `EACCES`.
fn refused(err: &std::io::Error) -> Failure {
    match escapes(err) {
        true => errno::os("EACCES", "leaves its mapped directory"),
        false => errno::from_io(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::mounts::Mount;

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
        // Absolute targets are guest paths, resolved through the mounts.
        for (link, target) in [
            ("abs", "/w/f"),
            ("absro", "/r/f"),
            ("absout", "/etc/passwd"),
        ] {
            std::os::unix::fs::symlink(target, work.join(link)).unwrap();
        }
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
            ("/w/abs", "ok"),
            ("/w/absro", "EROFS"),
            ("/w/absout", "EACCES"),
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
            let mode_change = chmod(&table, &meta(json!({"path": guest, "mode": 0o640})));
            assert_eq!(outcome(mode_change), *expected, "chmod {guest}");
            let owner = json!({"path": guest, "uid": me.0, "gid": me.1, "follow": true});
            assert_eq!(
                outcome(chown(&table, &meta(owner))),
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
        assert_eq!(outcome(chown(&table, &meta(lchown))), "ok");
    }
}
