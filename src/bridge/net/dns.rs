//! Name lookups by the host's resolver (`getaddrinfo`, `getnameinfo`, `gethostname`), with
//! the venv's network setting applied to the names looked up.

use super::access::Access;
use super::meta::{bad, int, text, unknown, Meta};
use crate::bridge::reply::{Failure, Reply};
use serde_json::{json, Value};
use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// One answer of `getaddrinfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub family: i32,
    pub socktype: i32,
    pub proto: i32,
    pub canonname: String,
    pub addr: SocketAddr,
}

/// What `getaddrinfo` is asked besides the names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints {
    pub family: i32,
    pub socktype: i32,
    pub proto: i32,
    pub flags: i32,
}

pub(super) fn answer(net: &mut Access, op: &str, meta: &Meta) -> Reply {
    match op {
        "dns.getaddrinfo" => getaddrinfo_op(net, meta),
        "dns.getnameinfo" => getnameinfo_op(net, meta),
        "dns.gethostname" => Ok((json!({ "name": hostname() }), Vec::new())),
        other => Err(unknown(other)),
    }
}

fn getaddrinfo_op(net: &mut Access, meta: &Meta) -> Reply {
    let host = text(meta, "host");
    if let Some(host) = host {
        net.check_lookup(host)?;
    }
    let service = match meta.get("port") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let hints = Hints {
        family: int(meta, "family").unwrap_or(0) as i32,
        socktype: int(meta, "type").unwrap_or(0) as i32,
        proto: int(meta, "proto").unwrap_or(0) as i32,
        flags: int(meta, "flags").unwrap_or(0) as i32,
    };
    let entries = getaddrinfo(host, service.as_deref(), hints).map_err(gai_failure)?;
    // Only a name the setting allows vouches for its addresses: a literal address or
    // `localhost` may be looked up freely but gains no permission to connect.
    if host.is_some_and(|h| net.rules.policy.allows(h)) {
        net.resolved.extend(entries.iter().map(|e| e.addr.ip()));
    }
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!([
                e.family,
                e.socktype,
                e.proto,
                e.canonname,
                addr_json(&e.addr)
            ])
        })
        .collect();
    Ok((json!({ "entries": list }), Vec::new()))
}

fn getnameinfo_op(net: &mut Access, meta: &Meta) -> Reply {
    let host = text(meta, "host").ok_or_else(|| bad("`host` is required"))?;
    let ip: IpAddr = host.parse().map_err(|_| bad("`host` must be an address"))?;
    let port = int(meta, "port").unwrap_or(0) as u16;
    let flags = int(meta, "flags").unwrap_or(0) as i32;
    if flags & libc::NI_NUMERICHOST == 0 {
        net.check_connect(ip)?; // a reverse lookup asks the network about this address
    }
    let (name, service) = getnameinfo(SocketAddr::new(ip, port), flags).map_err(gai_failure)?;
    Ok((json!({ "host": name, "service": service }), Vec::new()))
}

/// A socket address as the guest's tuple: `[host, port]` or `[host, port, flowinfo, scope]`.
pub fn addr_json(addr: &SocketAddr) -> Value {
    match addr {
        SocketAddr::V4(a) => json!([a.ip().to_string(), a.port()]),
        SocketAddr::V6(a) => json!([a.ip().to_string(), a.port(), a.flowinfo(), a.scope_id()]),
    }
}

/// `getaddrinfo` error `code` as the guest's `socket.gaierror`.
fn gai_failure((code, message): (i32, String)) -> Failure {
    Failure {
        errno: Some(gai_name(code)),
        ..Failure::new("gai", message)
    }
}

fn gai_name(code: i32) -> &'static str {
    match code {
        libc::EAI_AGAIN => "EAI_AGAIN",
        libc::EAI_BADFLAGS => "EAI_BADFLAGS",
        libc::EAI_FAIL => "EAI_FAIL",
        libc::EAI_FAMILY => "EAI_FAMILY",
        libc::EAI_MEMORY => "EAI_MEMORY",
        libc::EAI_SERVICE => "EAI_SERVICE",
        libc::EAI_SOCKTYPE => "EAI_SOCKTYPE",
        libc::EAI_NODATA => "EAI_NODATA",
        _ => "EAI_NONAME",
    }
}

fn gai_message(code: i32) -> String {
    // SAFETY: gai_strerror returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

/// The host's `getaddrinfo`; an error is its code and message.
pub fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    hints: Hints,
) -> Result<Vec<Entry>, (i32, String)> {
    let cstr =
        |s: &str| CString::new(s).map_err(|_| (libc::EAI_NONAME, gai_message(libc::EAI_NONAME)));
    let host = host.map(cstr).transpose()?;
    let service = service.map(cstr).transpose()?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value.
    let mut want: libc::addrinfo = unsafe { std::mem::zeroed() };
    want.ai_family = hints.family;
    want.ai_socktype = hints.socktype;
    want.ai_protocol = hints.proto;
    want.ai_flags = hints.flags;
    let mut found: *mut libc::addrinfo = std::ptr::null_mut();
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid C strings or null, valid hints, an out pointer freed below.
    let code = unsafe { libc::getaddrinfo(ptr(&host), ptr(&service), &want, &mut found) };
    if code != 0 {
        return Err((code, gai_message(code)));
    }
    let mut entries = Vec::new();
    let mut at = found;
    while !at.is_null() {
        // SAFETY: a node of the list getaddrinfo returned, not yet freed.
        let info = unsafe { &*at };
        if let Some(addr) = unsafe { socket_addr(info.ai_addr) } {
            let canonname = if info.ai_canonname.is_null() {
                String::new()
            } else {
                // SAFETY: a NUL-terminated string owned by the list.
                unsafe { CStr::from_ptr(info.ai_canonname) }
                    .to_string_lossy()
                    .into_owned()
            };
            entries.push(Entry {
                family: info.ai_family,
                socktype: info.ai_socktype,
                proto: info.ai_protocol,
                canonname,
                addr,
            });
        }
        at = info.ai_next;
    }
    // SAFETY: the list getaddrinfo returned, freed once.
    unsafe { libc::freeaddrinfo(found) };
    Ok(entries)
}

/// Reads an IPv4 or IPv6 `sockaddr`; `None` for other families.
///
/// # Safety
/// `addr` is null or points at a socket address of the size its family implies.
unsafe fn socket_addr(addr: *const libc::sockaddr) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    match (*addr).sa_family as i32 {
        libc::AF_INET => {
            let a = &*(addr as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            let a = &*(addr as *const libc::sockaddr_in6);
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The host's `getnameinfo`: host name and service of `addr`.
pub fn getnameinfo(addr: SocketAddr, flags: i32) -> Result<(String, String), (i32, String)> {
    let raw = socket2::SockAddr::from(addr);
    let mut host = [0 as libc::c_char; 1025];
    let mut service = [0 as libc::c_char; 32];
    // SAFETY: a valid socket address and two buffers of the given sizes.
    let code = unsafe {
        libc::getnameinfo(
            raw.as_ptr().cast(),
            raw.len(),
            host.as_mut_ptr(),
            host.len() as u32,
            service.as_mut_ptr(),
            service.len() as u32,
            flags,
        )
    };
    if code != 0 {
        return Err((code, gai_message(code)));
    }
    // SAFETY: getnameinfo wrote NUL-terminated strings into both buffers.
    let read = |b: &[libc::c_char]| {
        unsafe { CStr::from_ptr(b.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok((read(&host), read(&service)))
}

/// The host's name, as `socket.gethostname()` gives it natively.
pub fn hostname() -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: a buffer of the given size; gethostname NUL-terminates within it.
    if unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len() - 1) } != 0 {
        return "localhost".to_owned();
    }
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_local_lookups() {
        let hints = Hints {
            socktype: libc::SOCK_STREAM,
            ..Hints::default()
        };
        let found = getaddrinfo(Some("127.0.0.1"), Some("80"), hints).unwrap();
        assert_eq!(found[0].addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(found[0].family, libc::AF_INET);
        let v6 = Hints {
            family: libc::AF_INET6,
            flags: libc::AI_NUMERICHOST,
            ..hints
        };
        assert_eq!(
            getaddrinfo(Some("::1"), None, v6).unwrap()[0].addr.ip(),
            Ipv6Addr::LOCALHOST
        );
        let (code, message) = getaddrinfo(
            Some("no such name"),
            None,
            Hints {
                flags: libc::AI_NUMERICHOST,
                ..hints
            },
        )
        .unwrap_err();
        assert_eq!(gai_name(code), "EAI_NONAME");
        assert!(!message.is_empty());
        let (_, service) =
            getnameinfo("127.0.0.1:443".parse().unwrap(), libc::NI_NUMERICHOST).unwrap();
        assert!(service == "https" || service == "443", "{service}");
        assert!(!hostname().is_empty());
    }
}
