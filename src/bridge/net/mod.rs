//! The guest's sockets, backed by host sockets: each guest socket is a bridge channel (a real
//! guest descriptor), so `select`, `selectors` and asyncio wait on it through `poll_oneoff`
//! ([`poll`]); name lookups go to the host's resolver ([`dns`]); TLS is done by the host
//! with rustls ([`tls`]). The venv's network setting is enforced here, at connect and bind.

pub mod dns;
pub mod sock;
pub mod tls;

use super::errno;
use super::reply::{Failure, Reply};
use crate::guest::network::Policy;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;

type Meta = Map<String, Value>;

/// What guest code may reach: the venv's `wasipy-network`, and whether it may bind only to
/// loopback (a sandbox).
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub bind_loopback_only: bool,
}

/// The rules and what lookups have allowed so far.
pub struct Access {
    rules: Rules,
    /// Addresses an allowed host name resolved to: connecting to them is allowed too.
    resolved: HashSet<IpAddr>,
}

/// Every socket and TLS session of one guest.
pub struct Net {
    access: Access,
    sockets: HashMap<u32, sock::Sock>,
    /// Sockets waiting for a channel to adopt them (accepted, a pair's other end, dups).
    pending: HashMap<u64, socket2::Socket>,
    next_pending: u64,
    /// TLS over memory buffers (`ssl.MemoryBIO`), by id.
    bios: HashMap<u64, tls::Session>,
    tls_configs: tls::config::Configs,
    next_bio: u64,
}

impl Net {
    pub fn new(rules: Rules) -> Self {
        Self {
            access: Access {
                rules,
                resolved: HashSet::new(),
            },
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

    /// Answers a `sock.*`, `dns.*` or `tls.*` request that arrived on channel `fd`.
    pub fn answer(
        &mut self,
        fd: u32,
        op: &str,
        meta: &Meta,
        body: Vec<u8>,
        stop: Option<&AtomicBool>,
    ) -> Reply {
        let (family, _) = op.split_once('.').unwrap_or((op, ""));
        match family {
            "dns" => dns::answer(&mut self.access, op, meta),
            "tls" => tls::answer(self, fd, op, meta, body, stop),
            _ => sock::answer(self, fd, op, meta, body, stop),
        }
    }
}

impl Access {
    /// Whether guest code may connect to (or send to) `ip`.
    fn check_connect(&self, ip: IpAddr) -> Result<(), Failure> {
        let allowed = match &self.rules.policy {
            Policy::On => true,
            Policy::Off => false,
            Policy::Hosts(_) => {
                self.resolved.contains(&ip) || self.rules.policy.allows(&ip.to_string())
            }
        };
        if allowed {
            return Ok(());
        }
        Err(denied(&ip.to_string()))
    }

    /// Whether guest code may look up `host` (names that never leave the machine always).
    fn check_lookup(&self, host: &str) -> Result<(), Failure> {
        let local = host.parse::<IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost");
        if local || self.rules.policy.allows(host) {
            return Ok(());
        }
        Err(denied(host))
    }

    /// Whether guest code may bind to `ip`.
    fn check_bind(&self, ip: IpAddr) -> Result<(), Failure> {
        if !self.rules.bind_loopback_only || ip.is_loopback() {
            return Ok(());
        }
        Err(errno::os(
            "EACCES",
            format!(
                "binding to `{ip}` is not allowed in a sandboxed venv, only loopback addresses \
                 (`wasipy-sandbox` in its pyvenv.cfg)"
            ),
        ))
    }
}

/// The refusal of a host the venv's network setting does not allow.
fn denied(host: &str) -> Failure {
    errno::os(
        "EACCES",
        format!(
            "network access to `{host}` is not allowed in this venv \
             (`wasipy-network` in its pyvenv.cfg)"
        ),
    )
}

fn int(meta: &Meta, key: &str) -> Option<i64> {
    meta.get(key).and_then(Value::as_i64)
}

fn text<'m>(meta: &'m Meta, key: &str) -> Option<&'m str> {
    meta.get(key).and_then(Value::as_str)
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::new("bad_request", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_at_connect_lookup_and_bind() {
        let hosts = Policy::Hosts(vec!["index.example".into()]);
        let mut net = Net::new(Rules {
            policy: hosts,
            bind_loopback_only: true,
        })
        .access;
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(net.check_connect(ip).is_err());
        net.resolved.insert(ip);
        assert!(net.check_connect(ip).is_ok());
        assert!(net.check_lookup("index.example").is_ok());
        assert!(net.check_lookup("localhost").is_ok());
        assert!(net.check_lookup("127.0.0.1").is_ok());
        let refused = net.check_lookup("evil.example").unwrap_err();
        assert!(
            refused.message.contains("wasipy-network"),
            "{}",
            refused.message
        );
        assert!(net.check_bind("127.0.0.1".parse().unwrap()).is_ok());
        assert!(net.check_bind("::1".parse().unwrap()).is_ok());
        assert!(net.check_bind("0.0.0.0".parse().unwrap()).is_err());

        let off = Net::new(Rules {
            policy: Policy::Off,
            bind_loopback_only: false,
        })
        .access;
        assert!(off.check_connect("127.0.0.1".parse().unwrap()).is_err());
        assert!(off.check_bind("0.0.0.0".parse().unwrap()).is_ok());
    }
}
