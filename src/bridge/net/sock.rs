//! Socket operations on host sockets (always non-blocking on the host): the guest's blocking
//! and timeout semantics are applied here, waiting in short steps so Ctrl-C still stops it.

use super::access::Access;
use super::dns::addr_json;
use super::meta::{bad, int, unknown, Meta};
use super::state::{Net, Sock};
use super::wait::{blocking, wait, Deadline};
use crate::bridge::errno;
use crate::bridge::reply::{Failure, Reply};
use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicBool;

/// Largest receive a single request may ask for.
const MAX_RECV: usize = 1 << 20;

pub(super) fn answer(
    net: &mut Net,
    fd: u32,
    op: &str,
    meta: &Meta,
    body: Vec<u8>,
    stop: Option<&AtomicBool>,
) -> Reply {
    match op {
        "sock.open" => open(net, fd, meta),
        "sock.pair" => pair(net, fd),
        "sock.dup" => dup(net, fd),
        "sock.accept" => accept(net, fd, meta, stop),
        "sock.adopt" => {
            let id = int(meta, "pending").ok_or_else(|| bad("`pending` is required"))? as u64;
            let socket = net
                .pending
                .remove(&id)
                .ok_or_else(|| bad("no such pending socket"))?;
            adopt(net, fd, socket)
        }
        _ => {
            let sock = net.sockets.get_mut(&fd).ok_or_else(not_a_socket)?;
            on_socket(sock, &net.access, op, meta, body, stop)
        }
    }
}

fn on_socket(
    sock: &mut Sock,
    check: &Access,
    op: &str,
    meta: &Meta,
    body: Vec<u8>,
    stop: Option<&AtomicBool>,
) -> Reply {
    let s = &sock.socket;
    match op {
        "sock.connect" => connect(s, check, meta, stop),
        "sock.bind" => {
            let addr = address(meta)?;
            check.check_bind(addr.ip())?;
            s.bind(&addr.into()).map_err(|e| errno::from_io(&e))?;
            done()
        }
        "sock.listen" => {
            s.listen(int(meta, "backlog").unwrap_or(128).clamp(0, 4096) as i32)
                .map_err(|e| errno::from_io(&e))?;
            done()
        }
        "sock.send" => send(s, meta, &body, None, stop),
        "sock.sendto" => {
            let addr = address(meta)?;
            check.check_connect(addr.ip())?;
            send(s, meta, &body, Some(addr), stop)
        }
        "sock.recv" | "sock.recvfrom" => recv(s, meta, op == "sock.recvfrom", stop),
        "sock.shutdown" => shutdown(s, meta),
        "sock.name" => name_reply(s.local_addr()),
        "sock.peer" => name_reply(s.peer_addr()),
        "sock.setsockopt" => setsockopt(s, meta, &body),
        "sock.getsockopt" => getsockopt(s, meta),
        "sock.info" => info(s),
        other => Err(unknown(other)),
    }
}

fn done() -> Reply {
    Ok((json!({}), Vec::new()))
}

fn not_a_socket() -> Failure {
    errno::os("ENOTSOCK", "Socket operation on non-socket")
}

fn open(net: &mut Net, fd: u32, meta: &Meta) -> Reply {
    let family = int(meta, "family").unwrap_or(libc::AF_INET as i64) as i32;
    let kind = int(meta, "type").unwrap_or(libc::SOCK_STREAM as i64) as i32;
    let proto = int(meta, "proto").unwrap_or(0) as i32;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Err(errno::os(
            "EAFNOSUPPORT",
            "only AF_INET and AF_INET6 sockets (and socketpair()) are available in wasipy",
        ));
    }
    if kind != libc::SOCK_STREAM && kind != libc::SOCK_DGRAM {
        return Err(errno::os(
            "EPROTONOSUPPORT",
            "only SOCK_STREAM and SOCK_DGRAM sockets are available in wasipy",
        ));
    }
    let proto = (proto != 0).then_some(Protocol::from(proto));
    let socket = Socket::new(Domain::from(family), Type::from(kind), proto)
        .map_err(|e| errno::from_io(&e))?;
    adopt(net, fd, socket)
}

/// Makes `socket` (non-blocking) the socket of channel `fd`.
fn adopt(net: &mut Net, fd: u32, socket: Socket) -> Reply {
    socket
        .set_nonblocking(true)
        .map_err(|e| errno::from_io(&e))?;
    net.sockets.insert(fd, Sock { socket, tls: None });
    done()
}

/// A socket made by an operation on another channel, kept until a new channel adopts it
/// (`sock.adopt`): the guest's descriptor numbers are not the host's, so they cannot name it.
fn pending(net: &mut Net, socket: Socket) -> u64 {
    net.next_pending += 1;
    net.pending.insert(net.next_pending, socket);
    net.next_pending
}

/// `socketpair()`: this channel is one end; the other is pending.
fn pair(net: &mut Net, fd: u32) -> Reply {
    let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None).map_err(|e| errno::from_io(&e))?;
    adopt(net, fd, a)?;
    let id = pending(net, b);
    Ok((json!({ "pending": id }), Vec::new()))
}

/// `socket.dup()`: a duplicate of this socket, pending.
fn dup(net: &mut Net, fd: u32) -> Reply {
    let sock = net.sockets.get(&fd).ok_or_else(not_a_socket)?;
    let copy = sock.socket.try_clone().map_err(|e| errno::from_io(&e))?;
    let id = pending(net, copy);
    Ok((json!({ "pending": id }), Vec::new()))
}

/// `accept`: the connection is pending, with the peer's address.
fn accept(net: &mut Net, fd: u32, meta: &Meta, stop: Option<&AtomicBool>) -> Reply {
    let sock = net.sockets.get(&fd).ok_or_else(not_a_socket)?;
    let deadline = Deadline::of(meta);
    let (socket, peer) = blocking(&sock.socket, libc::POLLIN, deadline, stop, |s| s.accept())?;
    let peer = peer
        .as_socket()
        .map(|a| addr_json(&a))
        .unwrap_or(Value::Null);
    let id = pending(net, socket);
    Ok((json!({ "addr": peer, "pending": id }), Vec::new()))
}

fn connect(s: &Socket, check: &Access, meta: &Meta, stop: Option<&AtomicBool>) -> Reply {
    let addr = address(meta)?;
    check.check_connect(addr.ip())?;
    let deadline = Deadline::of(meta);
    match s.connect(&addr.into()) {
        Ok(()) => return done(),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) && deadline.blocking => {}
        Err(e) => return Err(errno::from_io(&e)),
    }
    wait(s.as_raw_fd(), libc::POLLOUT, deadline, stop)?;
    match s.take_error() {
        Ok(None) => done(),
        Ok(Some(e)) | Err(e) => Err(errno::from_io(&e)),
    }
}

fn send(
    s: &Socket,
    meta: &Meta,
    body: &[u8],
    to: Option<SocketAddr>,
    stop: Option<&AtomicBool>,
) -> Reply {
    let deadline = Deadline::of(meta);
    let flags = int(meta, "flags").unwrap_or(0) as i32 | libc::MSG_NOSIGNAL;
    let all = meta.get("all").and_then(Value::as_bool).unwrap_or(false);
    let to = to.map(SockAddr::from);
    let mut sent = 0;
    loop {
        let rest = &body[sent..];
        let n = blocking(s, libc::POLLOUT, deadline, stop, |s| match &to {
            Some(addr) => s.send_to_with_flags(rest, addr, flags),
            None => s.send_with_flags(rest, flags),
        });
        match n {
            Ok(n) => sent += n,
            // sendall: what was sent before a timeout is lost to the caller, as natively.
            Err(e) => return Err(e),
        }
        if !all || sent >= body.len() {
            return Ok((json!({ "n": sent }), Vec::new()));
        }
    }
}

fn recv(s: &Socket, meta: &Meta, from: bool, stop: Option<&AtomicBool>) -> Reply {
    let n = (int(meta, "n").unwrap_or(0).max(0) as usize).min(MAX_RECV);
    let flags = int(meta, "flags").unwrap_or(0) as i32;
    // Received straight into the reply's buffer: its pages are touched only as far as the
    // data reaches (a 1 MiB receive that gets 64 KiB costs 64 KiB).
    let mut data: Vec<u8> = Vec::with_capacity(n);
    let (got, peer) = blocking(s, libc::POLLIN, Deadline::of(meta), stop, |s| {
        let spare = data.spare_capacity_mut();
        if from {
            s.recv_from_with_flags(spare, flags)
                .map(|(n, a)| (n, Some(a)))
        } else {
            s.recv_with_flags(spare, flags).map(|n| (n, None))
        }
    })?;
    // SAFETY: recv initialised the first `got` bytes of the spare capacity.
    unsafe { data.set_len(got) };
    let addr = peer
        .and_then(|a| a.as_socket())
        .map(|a| addr_json(&a))
        .unwrap_or(Value::Null);
    Ok((json!({ "addr": addr }), data))
}

fn shutdown(s: &Socket, meta: &Meta) -> Reply {
    let how = match int(meta, "how") {
        Some(0) => std::net::Shutdown::Read,
        Some(1) => std::net::Shutdown::Write,
        Some(2) => std::net::Shutdown::Both,
        _ => return Err(errno::failure(libc::EINVAL)),
    };
    s.shutdown(how).map_err(|e| errno::from_io(&e))?;
    done()
}

fn name_reply(addr: std::io::Result<SockAddr>) -> Reply {
    let addr = addr.map_err(|e| errno::from_io(&e))?;
    let value = addr.as_socket().map(|a| addr_json(&a)).unwrap_or(json!(""));
    Ok((json!({ "addr": value }), Vec::new()))
}

fn info(s: &Socket) -> Reply {
    let family = s.domain().map(i32::from).unwrap_or(libc::AF_UNIX);
    let kind = s.r#type().map(i32::from).unwrap_or(libc::SOCK_STREAM);
    let proto = s.protocol().ok().flatten().map(i32::from).unwrap_or(0);
    Ok((
        json!({ "family": family, "type": kind, "proto": proto }),
        Vec::new(),
    ))
}

/// The options a guest may set or read (level, name): what programs commonly use.
const OPTIONS: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::SOL_SOCKET, libc::SO_SNDBUF),
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
    (libc::SOL_SOCKET, libc::SO_LINGER),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE),
    (libc::SOL_SOCKET, libc::SO_TYPE),
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP),
];

fn option(meta: &Meta) -> Result<(i32, i32), Failure> {
    let level = int(meta, "level").unwrap_or(-1) as i32;
    let name = int(meta, "name").unwrap_or(-1) as i32;
    if OPTIONS.contains(&(level, name)) {
        Ok((level, name))
    } else {
        Err(errno::failure(libc::ENOPROTOOPT))
    }
}

/// `setsockopt`: meta `value` (an int) or the body (bytes, as `struct.pack` made them).
fn setsockopt(s: &Socket, meta: &Meta, body: &[u8]) -> Reply {
    let (level, name) = option(meta)?;
    let int_value = int(meta, "value").map(|v| (v as i32).to_ne_bytes());
    let bytes: &[u8] = int_value.as_ref().map_or(body, |b| &b[..]);
    // SAFETY: a valid socket and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(errno::from_io(&std::io::Error::last_os_error()));
    }
    done()
}

/// `getsockopt`: `SO_ERROR` as an errno name; others as an int, or bytes if `buflen` given.
fn getsockopt(s: &Socket, meta: &Meta) -> Reply {
    let level = int(meta, "level").unwrap_or(-1) as i32;
    let name = int(meta, "name").unwrap_or(-1) as i32;
    if (level, name) == (libc::SOL_SOCKET, libc::SO_ERROR) {
        let pending = s.take_error().map_err(|e| errno::from_io(&e))?;
        let code = pending.and_then(|e| e.raw_os_error());
        return Ok((json!({ "errno": code.map(errno::name) }), Vec::new()));
    }
    let (level, name) = option(meta)?;
    let buflen = int(meta, "buflen").map(|n| n.clamp(0, 1024) as usize);
    let mut buf = vec![0u8; buflen.unwrap_or(4).max(4)];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: a valid socket, a buffer and its length.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(errno::from_io(&std::io::Error::last_os_error()));
    }
    buf.truncate(len as usize);
    match buflen {
        Some(_) => Ok((json!({}), buf)),
        None => {
            let value = i32::from_ne_bytes(buf[..4].try_into().unwrap_or([0; 4]));
            Ok((json!({ "value": value }), Vec::new()))
        }
    }
}

/// The socket address in meta `addr`: `[host, port]` or `[host, port, flowinfo, scope_id]`,
/// host an address (the guest resolves names first, as CPython does).
pub fn address(meta: &Meta) -> Result<SocketAddr, Failure> {
    let parts = meta
        .get("addr")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`addr` must be [host, port]"))?;
    let host = parts.first().and_then(Value::as_str).unwrap_or("");
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| errno::os("EINVAL", format!("`{host}` is not an IP address")))?;
    let port = parts.get(1).and_then(Value::as_u64).unwrap_or(0);
    let port = u16::try_from(port).map_err(|_| bad("port must be 0-65535"))?;
    let mut addr = SocketAddr::new(ip, port);
    if let SocketAddr::V6(v6) = &mut addr {
        v6.set_flowinfo(parts.get(2).and_then(Value::as_u64).unwrap_or(0) as u32);
        v6.set_scope_id(parts.get(3).and_then(Value::as_u64).unwrap_or(0) as u32);
    }
    Ok(addr)
}
