//! The host bridge: a synchronous request/reply channel from guest Python to the launcher,
//! for what WASI preview 1 cannot express (HTTP through the host's client, permission bits,
//! child interpreters).
//!
//! It sits below the engine: what it needs to start a child interpreter it asks of a
//! [`proc::Spawn`], which the engine provides.
//!
//! The guest opens the directory [`GUEST_DIR`] (a private, empty, read-only preopen) and
//! writes request frames ([`frame`]) to that descriptor; the launcher's shadowed
//! `fd_write`/`fd_read` ([`wasi`]) recognise it by its host fd and answer in place of the
//! filesystem. Every other descriptor goes to wasmtime-wasi untouched. A channel can also
//! become a socket ([`net`]): then it is the guest's socket descriptor.

pub mod errno;
pub mod frame;
pub mod fs;
pub mod links;
mod memory;
pub mod net;
mod paths;
mod perms;
pub mod poll;
pub mod proc;
pub mod readdir;
pub mod reply;
mod streams;
mod users;
pub mod wasi;

use crate::guest::network::Policy;
use frame::{Frame, Kind, Parsed};
use reply::{Failure, Reply};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where the guest finds the bridge. `shims/_wasipy_bridge.py` uses the same path.
pub const GUEST_DIR: &str = "/.wasipy-bridge";

/// Every operation a request frame may name (`op` in its meta); the shims use these names.
pub const OPERATIONS: &[&str] = &[
    "ping",
    "fs.chmod",
    "fs.chown",
    "stdio.discard",
    "proc.spawn",
    "proc.write",
    "proc.close_stdin",
    "proc.read",
    "proc.wait",
    "proc.communicate",
    "proc.kill",
    "sock.open",
    "sock.pair",
    "sock.dup",
    "sock.accept",
    "sock.adopt",
    "sock.connect",
    "sock.bind",
    "sock.listen",
    "sock.send",
    "sock.sendto",
    "sock.recv",
    "sock.recvfrom",
    "sock.shutdown",
    "sock.name",
    "sock.peer",
    "sock.setsockopt",
    "sock.getsockopt",
    "sock.info",
    "dns.getaddrinfo",
    "dns.getnameinfo",
    "dns.gethostname",
    "tls.wrap",
    "tls.io",
    "tls.info",
    "tls.free",
    "users.passwd",
    "users.group",
];

/// Per-run bridge state, kept in the wasmtime store beside the WASI context.
pub struct Bridge {
    /// The host fd of the bridge's preopen; descriptors opened through it are channels.
    preopen_fd: Option<u32>,
    channels: HashMap<u32, Channel>,
    fs: fs::Table,
    /// Guest stdout/stderr redirected to the null device (`os.dup2(devnull, 1)`).
    discard: [bool; 3],
    procs: proc::Procs,
    /// This guest's kill flag (set by its parent's `Popen.kill()`), for blocking calls.
    kill: Option<Arc<AtomicBool>>,
    /// Directory listings being read ([`readdir`]).
    listings: readdir::Listings,
    /// The guest's sockets and TLS sessions.
    net: net::Net,
    /// Whether the guest is sandboxed (its root is not the host's).
    sandboxed: bool,
    /// The most channels open at once ([`crate::guest::limits::KEY_CHANNELS`]).
    max_channels: usize,
    /// Descriptors opened by path, and the FIFOs among them read and written as streams.
    streams: streams::Streams,
}

/// One open channel: request bytes not yet parsed, reply bytes not yet read.
#[derive(Default)]
struct Channel {
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    read_pos: usize,
}

impl Bridge {
    pub fn new(preopen_fd: Option<u32>, network: Policy, fs: fs::Table) -> Self {
        Self {
            preopen_fd,
            channels: HashMap::new(),
            net: net::Net::new(net::Rules {
                policy: network,
                bind_loopback_only: false,
            }),
            fs,
            discard: [false; 3],
            procs: proc::Procs::default(),
            kill: None,
            listings: readdir::Listings::default(),
            sandboxed: false,
            max_channels: usize::MAX,
            streams: streams::Streams::default(),
        }
    }

    /// At most `max` channels open at once; `path_open` of one more is `EMFILE`.
    pub fn with_channel_limit(mut self, max: u32) -> Self {
        self.max_channels = max as usize;
        self
    }

    /// Whether opening in directory `dir_fd` would make one channel too many.
    pub fn channels_full(&self, dir_fd: u32) -> bool {
        Some(dir_fd) == self.preopen_fd && self.channels.len() >= self.max_channels
    }

    /// A sandboxed guest may bind sockets to loopback addresses only.
    pub fn with_sandbox(mut self, sandboxed: bool) -> Self {
        self.net.set_bind_loopback_only(sandboxed);
        self.sandboxed = sandboxed;
        self
    }

    /// The run's mounts, as the guest sees them.
    pub fn fs_table(&self) -> &fs::Table {
        &self.fs
    }

    pub fn sandboxed(&self) -> bool {
        self.sandboxed
    }

    pub fn with_kill(mut self, kill: Option<Arc<AtomicBool>>) -> Self {
        self.kill = kill;
        self
    }

    /// The error that ends this guest now, if it is being stopped.
    pub fn stop_requested(&self) -> Option<wasmtime::Error> {
        crate::stop::requested(self.kill.as_deref()).map(wasmtime::Error::new)
    }

    /// Lets this guest start child interpreters.
    pub fn with_spawner(mut self, spawner: proc::Spawner) -> Self {
        self.procs = proc::Procs::new(Some(spawner));
        self
    }

    /// Whether writes to stdio descriptor `fd` are thrown away.
    pub fn discards(&self, fd: u32) -> bool {
        self.discard.get(fd as usize).copied().unwrap_or(false)
    }

    pub fn is_channel(&self, fd: u32) -> bool {
        self.channels.contains_key(&fd)
    }

    /// Called after every successful `path_open`: a descriptor opened relative to the
    /// bridge's preopen becomes a channel.
    pub fn opened(&mut self, dir_fd: u32, new_fd: u32) {
        if Some(dir_fd) == self.preopen_fd {
            self.channels.insert(new_fd, Channel::default());
        }
    }

    /// Called after a successful `path_open` of `path` in a mount's preopen `dir_fd`: where
    /// descriptor `new_fd` leads, should it turn out to be a FIFO ([`streams`]).
    pub fn opened_path(&mut self, dir_fd: u32, new_fd: u32, path: &[u8]) {
        if let Some(mount) = self.fs.mount_at(dir_fd as i32) {
            self.streams.opened(new_fd, mount, path);
        }
    }

    /// Whether `fd` is a FIFO read and written as a stream.
    pub fn is_stream(&self, fd: u32) -> bool {
        self.streams.is_stream(fd)
    }

    /// Writes to stream `fd`, making it one if its file cannot be written at a position;
    /// None if it is not such a file. `Err` is a WASI errno.
    pub fn stream_write(&mut self, fd: u32, data: &[u8]) -> Option<Result<usize, i32>> {
        self.streams.write(&self.fs, fd, data)
    }

    /// Reads from stream `fd`, as [`Bridge::stream_write`].
    pub fn stream_read(&mut self, fd: u32, buf: &mut [u8]) -> Option<Result<usize, i32>> {
        self.streams.read(&self.fs, fd, buf)
    }

    /// Called on `fd_close`; forgets the channel (its HTTP streams stay until the run ends)
    /// and any listing being read.
    pub fn closed(&mut self, fd: u32) {
        self.streams.closed(fd);
        self.channels.remove(&fd);
        self.listings.remove(&fd);
        self.net.closed(fd);
    }

    /// The host socket behind channel `fd` (and whether TLS holds unread plaintext).
    pub fn socket(&self, fd: u32) -> Option<(i32, bool)> {
        self.net.pollable(fd)
    }

    /// This guest's kill flag, for operations that wait.
    pub fn kill_flag(&self) -> Option<&AtomicBool> {
        self.kill.as_deref()
    }

    pub fn listings(&mut self) -> &mut readdir::Listings {
        &mut self.listings
    }

    /// Takes request bytes written to channel `fd`; complete frames are answered at once.
    pub fn write(&mut self, fd: u32, bytes: &[u8]) {
        let Some(channel) = self.channels.get_mut(&fd) else {
            return;
        };
        channel.inbox.extend_from_slice(bytes);
        loop {
            let channel = self.channels.get_mut(&fd).expect("channel exists");
            match frame::parse(&channel.inbox) {
                Parsed::Incomplete => break,
                Parsed::Invalid(err) => {
                    channel.inbox.clear();
                    let reply = frame::error("bad_frame", &err.to_string());
                    channel.queue(reply);
                    break;
                }
                Parsed::Frame(request, used) => {
                    channel.inbox.drain(..used);
                    let reply = self.answer(fd, request);
                    let channel = self.channels.get_mut(&fd).expect("channel exists");
                    channel.queue(reply);
                }
            }
        }
    }

    /// Copies pending reply bytes of channel `fd` into `out`; returns how many.
    pub fn read(&mut self, fd: u32, out: &mut [u8]) -> usize {
        let Some(channel) = self.channels.get_mut(&fd) else {
            return 0;
        };
        let pending = &channel.outbox[channel.read_pos..];
        let n = pending.len().min(out.len());
        out[..n].copy_from_slice(&pending[..n]);
        channel.read_pos += n;
        if channel.read_pos == channel.outbox.len() {
            channel.outbox.clear();
            channel.read_pos = 0;
        }
        n
    }

    fn answer(&mut self, fd: u32, request: Frame) -> Vec<u8> {
        if request.kind != Kind::Request {
            return frame::error("bad_frame", "expected a request frame");
        }
        let op = request.meta.get("op").and_then(Value::as_str).unwrap_or("");
        let result = match op {
            "ping" => Ok((json!({ "version": frame::VERSION }), request.body)),
            "fs.chmod" => perms::chmod(&self.fs, &request.meta),
            "fs.chown" => perms::chown(&self.fs, &request.meta),
            "stdio.discard" => self.discard_stdio(&request.meta),
            "proc.spawn" => self.procs.spawn(&request.meta),
            "proc.write" => self.procs.write(&request.meta, &request.body),
            "proc.close_stdin" => self.procs.close_stdin(&request.meta),
            "proc.read" => self.procs.read(&request.meta),
            "proc.wait" => self.procs.wait(&request.meta),
            "proc.communicate" => self.procs.communicate(&request.meta),
            "proc.kill" => self.procs.kill(&request.meta),
            "users.passwd" => users::passwd(&request.meta, self.sandboxed),
            "users.group" => users::group(&request.meta, self.sandboxed),
            op if is_net(op) => {
                let stop = self.kill.as_deref();
                self.net.answer(fd, op, &request.meta, request.body, stop)
            }
            other => Err(Failure::new(
                "unknown_op",
                format!("unknown bridge operation `{other}`"),
            )),
        };
        match result {
            Ok((meta, body)) => frame::encode(Kind::Reply, &meta, &body),
            Err(failure) => frame::encode(Kind::Error, &failure.meta(), &[]),
        }
    }
}

impl Bridge {
    /// `stdio.discard`: meta `{fd}` (1 or 2); what `os.dup2(devnull, fd)` means.
    fn discard_stdio(&mut self, meta: &serde_json::Map<String, Value>) -> Reply {
        match meta.get("fd").and_then(Value::as_u64) {
            Some(fd @ (1 | 2)) => {
                self.discard[fd as usize] = true;
                Ok((json!({}), Vec::new()))
            }
            _ => Err(Failure::new("bad_request", "`fd` must be 1 or 2")),
        }
    }
}

/// Whether `op` is one of the socket, name-lookup and TLS operations ([`net`]).
fn is_net(op: &str) -> bool {
    let listed = OPERATIONS.contains(&op);
    listed && (op.starts_with("sock.") || op.starts_with("dns.") || op.starts_with("tls."))
}

impl Channel {
    fn queue(&mut self, reply: Vec<u8>) {
        if self.outbox.is_empty() {
            self.outbox = reply;
            self.read_pos = 0;
        } else {
            self.outbox.extend_from_slice(&reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_of(bridge: &mut Bridge, fd: u32) -> Frame {
        let mut out = vec![0u8; 1 << 16];
        let n = bridge.read(fd, &mut out);
        match frame::parse(&out[..n]) {
            Parsed::Frame(frame, used) => {
                assert_eq!(used, n);
                frame
            }
            other => panic!("no reply frame: {other:?}"),
        }
    }

    #[test]
    fn only_descriptors_from_the_preopen_are_channels() {
        let mut bridge = Bridge::new(Some(4), Policy::Off, fs::Table::default());
        bridge.opened(3, 10);
        bridge.opened(4, 11);
        assert!(!bridge.is_channel(10));
        assert!(bridge.is_channel(11));
        bridge.closed(11);
        assert!(!bridge.is_channel(11));
    }

    #[test]
    fn answers_frames_split_across_writes_and_rejects_garbage() {
        let mut bridge = Bridge::new(Some(3), Policy::Off, fs::Table::default());
        bridge.opened(3, 7);
        let ping = frame::encode(Kind::Request, &json!({"op": "ping"}), b"hello");
        let (a, b) = ping.split_at(5);
        bridge.write(7, a);
        assert_eq!(
            bridge.read(7, &mut [0u8; 64]),
            0,
            "no reply before the frame is whole"
        );
        bridge.write(7, b);
        let reply = reply_of(&mut bridge, 7);
        assert_eq!(
            (reply.kind, reply.body.as_slice()),
            (Kind::Reply, &b"hello"[..])
        );

        bridge.write(7, b"not a frame at all");
        let reply = reply_of(&mut bridge, 7);
        assert_eq!(reply.kind, Kind::Error);
        assert_eq!(reply.meta["kind"], "bad_frame");

        bridge.write(
            7,
            &frame::encode(Kind::Request, &json!({"op": "nope"}), b""),
        );
        assert_eq!(reply_of(&mut bridge, 7).meta["kind"], "unknown_op");

        // The channel still works after errors.
        bridge.write(7, &ping);
        assert_eq!(reply_of(&mut bridge, 7).kind, Kind::Reply);
    }

    /// A stand-in for a fuzzer that runs on stable Rust: random bytes, random splits and
    /// random-but-plausible headers must never panic and must always get a reply frame.
    #[test]
    fn random_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let ops = [
            "ping",
            "dns.gethostname",
            "sock.recv",
            "proc.wait",
            "proc.read",
            "fs.chmod",
            "stdio.discard",
            "x",
        ];
        for round in 0..20_000 {
            let mut bridge = Bridge::new(Some(3), Policy::Off, fs::Table::default());
            bridge.opened(3, 9);
            let input = match round % 3 {
                0 => (0..next() % 64).map(|_| next() as u8).collect::<Vec<u8>>(),
                1 => {
                    let meta = json!({"op": ops[(next() % 8) as usize], "stream": next() % 4, "pid": next() % 3, "fd": next() % 4, "path": "/x", "mode": 420});
                    frame::encode(Kind::Request, &meta, &vec![0u8; (next() % 32) as usize])
                }
                _ => {
                    let mut h = frame::MAGIC.to_vec();
                    h.extend_from_slice(&[1, (next() % 4) as u8, 0, 0]);
                    h.extend_from_slice(&((next() % 40) as u32).to_le_bytes());
                    h.extend_from_slice(&((next() % 40) as u32).to_le_bytes());
                    h.extend((0..next() % 80).map(|_| next() as u8));
                    h
                }
            };
            let cut = if input.is_empty() {
                0
            } else {
                (next() as usize) % input.len()
            };
            bridge.write(9, &input[..cut]);
            bridge.write(9, &input[cut..]);
            let mut out = vec![0u8; 1 << 16];
            let n = bridge.read(9, &mut out);
            if n > 0 {
                assert!(
                    matches!(frame::parse(&out[..n]), Parsed::Frame(..)),
                    "round {round}"
                );
            }
        }
    }

    #[test]
    fn every_listed_operation_is_answered_and_no_other() {
        let mut bridge = Bridge::new(Some(3), Policy::Off, fs::Table::default());
        bridge.opened(3, 5);
        for op in OPERATIONS.iter().chain(&["sock.nope"]) {
            // A zero timeout: socket operations on the channel must not wait for a peer.
            let request = json!({ "op": op, "timeout": 0 });
            bridge.write(5, &frame::encode(Kind::Request, &request, b""));
            let reply = reply_of(&mut bridge, 5);
            let unknown = reply.meta.get("kind") == Some(&json!("unknown_op"));
            assert_eq!(unknown, !OPERATIONS.contains(op), "{op}");
        }
    }

    #[test]
    fn network_off_is_refused_without_touching_the_network() {
        let mut bridge = Bridge::new(Some(3), Policy::Off, fs::Table::default());
        bridge.opened(3, 5);
        let request = json!({"op": "dns.getaddrinfo", "host": "example.invalid", "port": 443});
        bridge.write(5, &frame::encode(Kind::Request, &request, b""));
        let reply = reply_of(&mut bridge, 5);
        assert_eq!(reply.meta["errno"], "EACCES", "{:?}", reply.meta);
        let message = reply.meta["message"].as_str().unwrap_or("");
        assert!(message.contains("wasipy-network"), "{message}");
    }
}
