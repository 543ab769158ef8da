//! The host's user and group database for the guest's `pwd` and `grp` (WASI has neither):
//! `users.passwd` and `users.group` look an entry up by id or name with the host's libc, so
//! `getpass.getuser()`, `Path.home()` and `os.path.expanduser` answer as on the host. A
//! sandboxed guest learns only its own user and group, with its private temp dir as home.

use super::reply::{Failure, Reply};
use crate::guest::sandbox::GUEST_TMP;
use serde_json::{json, Map, Value};
use std::ffi::{CStr, CString};

/// A lookup by id or by name (meta `{uid}`/`{gid}` or `{name}`).
enum Key {
    Id(u32),
    Name(CString),
}

fn key(meta: &Map<String, Value>, id: &str) -> Result<Key, Failure> {
    if let Some(n) = meta.get(id).and_then(Value::as_u64) {
        return u32::try_from(n)
            .map(Key::Id)
            .map_err(|_| not_found(&n.to_string()));
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    CString::new(name)
        .map(Key::Name)
        .map_err(|_| not_found(name))
}

fn not_found(what: &str) -> Failure {
    Failure::new("not_found", format!("name not found: {what}"))
}

fn text(ptr: *const libc::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: libc filled the entry with NUL-terminated strings inside our buffer.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// `users.passwd`: meta `{uid}` or `{name}`; replies the entry's fields, as `pwd.struct_passwd`.
pub fn passwd(meta: &Map<String, Value>, sandboxed: bool) -> Reply {
    let key = key(meta, "uid")?;
    // SAFETY: getpwuid_r/getpwnam_r write the entry into `entry` and `buf`, which outlive
    // every read of its pointers below.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let (ptr, len) = (buf.as_mut_ptr(), buf.len());
    let code = unsafe {
        match &key {
            Key::Id(uid) => libc::getpwuid_r(*uid, &mut entry, ptr, len, &mut found),
            Key::Name(name) => libc::getpwnam_r(name.as_ptr(), &mut entry, ptr, len, &mut found),
        }
    };
    // SAFETY: plain id query.
    let own = entry.pw_uid == unsafe { libc::getuid() };
    if code != 0 || found.is_null() || (sandboxed && !own) {
        return Err(not_found(&describe(&key)));
    }
    let dir = match sandboxed {
        true => GUEST_TMP.to_owned(),
        false => text(entry.pw_dir),
    };
    let reply = json!({
        "name": text(entry.pw_name), "passwd": text(entry.pw_passwd), "uid": entry.pw_uid,
        "gid": entry.pw_gid, "gecos": text(entry.pw_gecos), "dir": dir, "shell": text(entry.pw_shell),
    });
    Ok((reply, Vec::new()))
}

/// `users.group`: meta `{gid}` or `{name}`; replies the entry's fields, as `grp.struct_group`.
pub fn group(meta: &Map<String, Value>, sandboxed: bool) -> Reply {
    let key = key(meta, "gid")?;
    // SAFETY: as in `passwd`, with getgrgid_r/getgrnam_r.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 64 << 10];
    let mut found: *mut libc::group = std::ptr::null_mut();
    let (ptr, len) = (buf.as_mut_ptr(), buf.len());
    let code = unsafe {
        match &key {
            Key::Id(gid) => libc::getgrgid_r(*gid, &mut entry, ptr, len, &mut found),
            Key::Name(name) => libc::getgrnam_r(name.as_ptr(), &mut entry, ptr, len, &mut found),
        }
    };
    // SAFETY: plain id query.
    let own = entry.gr_gid == unsafe { libc::getgid() };
    if code != 0 || found.is_null() || (sandboxed && !own) {
        return Err(not_found(&describe(&key)));
    }
    let mut members = Vec::new();
    let mut at = entry.gr_mem;
    // SAFETY: gr_mem is a NULL-terminated array of strings in `buf`.
    while !at.is_null() && !unsafe { *at }.is_null() {
        members.push(text(unsafe { *at }));
        at = unsafe { at.add(1) };
    }
    let reply = json!({
        "name": text(entry.gr_name), "passwd": text(entry.gr_passwd), "gid": entry.gr_gid,
        "mem": if sandboxed { Vec::new() } else { members },
    });
    Ok((reply, Vec::new()))
}

fn describe(key: &Key) -> String {
    match key {
        Key::Id(id) => id.to_string(),
        Key::Name(name) => name.to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn entries_by_id_and_name_and_the_sandboxs_view() {
        let uid = unsafe { libc::getuid() };
        let (me, _) = passwd(&meta(json!({ "uid": uid })), false).unwrap();
        let name = me["name"].as_str().unwrap().to_owned();
        assert!(!name.is_empty());
        let (again, _) = passwd(&meta(json!({ "name": name })), false).unwrap();
        assert_eq!(again, me);
        let (boxed, _) = passwd(&meta(json!({ "uid": uid })), true).unwrap();
        assert_eq!(boxed["dir"], GUEST_TMP);
        let kind = |r: Reply| r.err().map(|f| f.kind);
        assert_eq!(
            kind(passwd(&meta(json!({"name": "no such user"})), false)),
            Some("not_found")
        );
        assert_eq!(
            kind(passwd(&meta(json!({"uid": 1u64 << 40})), false)),
            Some("not_found")
        );
        let other = if uid == 0 { 65534 } else { 0 };
        assert_eq!(
            kind(passwd(&meta(json!({ "uid": other })), true)),
            Some("not_found")
        );
        let gid = unsafe { libc::getgid() };
        let (grp, _) = group(&meta(json!({ "gid": gid })), false).unwrap();
        assert_eq!(grp["gid"], gid);
        assert!(!grp["name"].as_str().unwrap().is_empty());
    }
}
