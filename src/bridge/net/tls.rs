//! placeholder while sockets are wired (replaced by the TLS module).
use super::Net;
use crate::bridge::reply::{Failure, Reply};
use super::Meta;
use std::sync::atomic::AtomicBool;
pub struct Session;
impl Session { pub fn has_plaintext(&self) -> bool { false } }
pub(super) fn answer(_: &mut Net, _: u32, op: &str, _: &Meta, _: Vec<u8>, _: Option<&AtomicBool>) -> Reply { Err(Failure::new("unknown_op", op.to_owned())) }
pub(super) fn on_socket(_: &mut super::sock::Sock, op: &str, _: &Meta, _: Vec<u8>, _: Option<&AtomicBool>) -> Reply { Err(Failure::new("unknown_op", op.to_owned())) }
