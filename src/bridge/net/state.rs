//! What the bridge keeps of one guest's network: its sockets (one per channel), sockets
//! waiting for a channel, TLS sessions over memory buffers, and the rules.

use super::access::{Access, Rules};
use super::tls::config::Configs;
use super::tls::session::Session;
use socket2::Socket;
use std::collections::HashMap;
use std::os::fd::AsRawFd;

/// Every socket and TLS session of one guest.
pub struct Net {
    pub(super) access: Access,
    pub(super) sockets: HashMap<u32, Sock>,
    /// Sockets waiting for a channel to adopt them (accepted, a pair's other end, dups).
    pub(super) pending: HashMap<u64, Socket>,
    pub(super) next_pending: u64,
    /// TLS over memory buffers (`ssl.MemoryBIO`), by id.
    pub(super) bios: HashMap<u64, Session>,
    pub(super) tls_configs: Configs,
    pub(super) next_bio: u64,
}

impl Net {
    pub fn new(rules: Rules) -> Self {
        Self {
            access: Access::new(rules),
            sockets: HashMap::new(),
            pending: HashMap::new(),
            next_pending: 0,
            bios: HashMap::new(),
            tls_configs: Default::default(),
            next_bio: 1,
        }
    }

    pub fn set_bind_loopback_only(&mut self, only: bool) {
        self.access.rules.bind_loopback_only = only;
    }

    /// Forgets the socket of channel `fd` (closing the host socket).
    pub fn closed(&mut self, fd: u32) {
        self.sockets.remove(&fd);
    }

    /// The host descriptor behind channel `fd` and whether TLS holds plaintext not yet read,
    /// for `poll_oneoff`.
    pub fn pollable(&self, fd: u32) -> Option<(i32, bool)> {
        let sock = self.sockets.get(&fd)?;
        Some((sock.raw_fd(), sock.buffered()))
    }
}

/// One guest socket.
pub struct Sock {
    pub socket: Socket,
    /// TLS over this socket (`ssl.SSLSocket`), once wrapped.
    pub tls: Option<Session>,
}

impl Sock {
    pub fn raw_fd(&self) -> i32 {
        self.socket.as_raw_fd()
    }

    /// Whether TLS holds decrypted bytes the guest has not read yet.
    pub fn buffered(&self) -> bool {
        self.tls.as_ref().is_some_and(Session::has_plaintext)
    }
}
