//! The guest's sockets, backed by host sockets: each guest socket is a bridge channel (a real
//! guest descriptor), so `select`, `selectors` and asyncio wait on it through `poll_oneoff`
//! ([`poll`](super::poll)); name lookups go to the host's resolver ([`dns`]); TLS is done by
//! the host with rustls ([`tls`]). The venv's network setting is enforced at connect and bind
//! ([`access`]).

pub mod access;
pub mod dns;
mod meta;
pub mod sock;
pub mod state;
pub mod tls;
mod wait;

use crate::bridge::reply::Reply;
pub use access::Rules;
use meta::Meta;
pub use state::Net;
use std::sync::atomic::AtomicBool;

impl Net {
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
