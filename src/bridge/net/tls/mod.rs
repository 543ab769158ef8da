//! TLS for the guest's `ssl`, done by the host with rustls. A session runs over the guest's
//! socket (`SSLSocket`: the host reads and writes the socket itself) or over memory buffers
//! (`SSLObject` with `MemoryBIO`, which asyncio uses: the guest passes the bytes).

mod cert;
pub mod config;
mod errors;
pub mod session;

use super::meta::{bad, int, text, unknown, Meta};
use super::state::{Net, Sock};
use super::wait::Deadline;
use crate::bridge::errno;
use crate::bridge::reply::{Failure, Reply};
use serde_json::{json, Value};
use session::{Session, Wire};
use std::sync::atomic::AtomicBool;

/// Runs `action` (`handshake`, `read`, `write`, `shutdown`) of `session`: the plaintext
/// read (or nothing) and the count written.
fn run(
    session: &mut Session,
    wire: &mut Wire<'_>,
    meta: &Meta,
    payload: &[u8],
) -> Result<(Vec<u8>, usize), Failure> {
    match text(meta, "action").unwrap_or("") {
        "handshake" => session.handshake(wire).map(|()| (Vec::new(), 0)),
        "read" => {
            let n = int(meta, "n").unwrap_or(0).max(0) as usize;
            session.read(wire, n).map(|data| (data, 0))
        }
        "write" => session.write(wire, payload).map(|n| (Vec::new(), n)),
        "shutdown" => session.shutdown(wire).map(|()| (Vec::new(), 0)),
        other => Err(bad(format!("unknown TLS action `{other}`"))),
    }
}

/// `tls.*`: on the socket of the channel it arrived on, or on a memory-buffer session
/// (meta `bio`).
pub(super) fn answer(
    net: &mut Net,
    fd: u32,
    op: &str,
    meta: &Meta,
    body: Vec<u8>,
    stop: Option<&AtomicBool>,
) -> Reply {
    let bio = meta.get("bio").and_then(Value::as_bool) == Some(true);
    match (op, bio) {
        ("tls.wrap", false) => {
            if !net.sockets.contains_key(&fd) {
                return Err(not_a_socket());
            }
            let session = Session::new(&mut net.tls_configs, meta)?;
            let sock = net.sockets.get_mut(&fd).ok_or_else(not_a_socket)?;
            sock.tls = Some(session);
            Ok((json!({}), Vec::new()))
        }
        ("tls.wrap", true) => {
            let session = Session::new(&mut net.tls_configs, meta)?;
            net.next_bio += 1;
            net.bios.insert(net.next_bio, session);
            Ok((json!({ "id": net.next_bio }), Vec::new()))
        }
        ("tls.free", true) => {
            net.bios.remove(&bio_id(meta)?);
            Ok((json!({}), Vec::new()))
        }
        ("tls.free", false) => Err(bad("`tls.free` frees a memory-buffer session (`bio`)")),
        (_, true) => {
            let id = bio_id(meta)?;
            let session = net
                .bios
                .get_mut(&id)
                .ok_or_else(|| bad("no such TLS session"))?;
            bio_op(session, op, meta, body)
        }
        (_, false) => {
            let sock = net.sockets.get_mut(&fd).ok_or_else(not_a_socket)?;
            socket_op(sock, op, meta, &body, stop)
        }
    }
}

fn not_a_socket() -> Failure {
    errno::os("ENOTSOCK", "Socket operation on non-socket")
}

fn bio_id(meta: &Meta) -> Result<u64, Failure> {
    int(meta, "id")
        .map(|id| id as u64)
        .ok_or_else(|| bad("`id` is required"))
}

/// One step of a memory-buffer session: the body is the incoming TLS bytes (meta
/// `incoming` long) then the plaintext to write; the reply's body is the plaintext read
/// (meta `data` long) then the TLS bytes to send. A failure is in the meta, so the bytes
/// to send (an alert, say) still reach the guest.
fn bio_op(session: &mut Session, op: &str, meta: &Meta, body: Vec<u8>) -> Reply {
    if op == "tls.info" {
        return session.info();
    }
    let split = (int(meta, "incoming").unwrap_or(0).max(0) as usize).min(body.len());
    let (incoming, payload) = body.split_at(split);
    let eof = meta.get("eof").and_then(Value::as_bool) == Some(true);
    let mut wire = Wire::Bio {
        incoming,
        eof,
        outgoing: Vec::new(),
    };
    let result = run(session, &mut wire, meta, payload);
    let Wire::Bio {
        incoming, outgoing, ..
    } = wire
    else {
        unreachable!("a memory-buffer wire stays one")
    };
    let used = split - incoming.len();
    let (mut data, n, failure) = match result {
        Ok((data, n)) => (data, n, Value::Null),
        Err(f) => (Vec::new(), 0, f.meta()),
    };
    let meta = json!({
        "data": data.len(),
        "n": n,
        "used": used,
        "error": failure,
        "pending": session.pending(),
    });
    data.extend_from_slice(&outgoing);
    Ok((meta, data))
}

/// A step of the TLS session over channel's socket: the host reads and writes the socket,
/// blocking as the guest socket's timeout says.
fn socket_op(
    sock: &mut Sock,
    op: &str,
    meta: &Meta,
    body: &[u8],
    stop: Option<&AtomicBool>,
) -> Reply {
    let Sock { socket, tls } = sock;
    let session = tls
        .as_mut()
        .ok_or_else(|| errno::os("EINVAL", "the socket is not wrapped for TLS"))?;
    if op == "tls.info" {
        return session.info();
    }
    if op != "tls.io" {
        return Err(unknown(op));
    }
    if text(meta, "action") == Some("drop") {
        *tls = None; // `unwrap()`: the socket goes on without TLS
        return Ok((json!({}), Vec::new()));
    }
    let mut wire = Wire::Socket {
        socket,
        deadline: Deadline::of(meta),
        stop,
    };
    let (data, n) = run(session, &mut wire, meta, body)?;
    let pending = session.pending();
    Ok((json!({ "n": n, "pending": pending }), data))
}
