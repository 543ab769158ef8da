//! Reading a request's JSON meta: the shared helpers of the socket, name and TLS operations.

use crate::bridge::reply::Failure;
use serde_json::{Map, Value};

/// A request's meta.
pub type Meta = Map<String, Value>;

pub fn int(meta: &Meta, key: &str) -> Option<i64> {
    meta.get(key).and_then(Value::as_i64)
}

pub fn text<'m>(meta: &'m Meta, key: &str) -> Option<&'m str> {
    meta.get(key).and_then(Value::as_str)
}

pub fn bad(message: impl Into<String>) -> Failure {
    Failure::new("bad_request", message)
}

/// The refusal of an operation the bridge does not know.
pub fn unknown(op: &str) -> Failure {
    Failure::new("unknown_op", format!("unknown bridge operation `{op}`"))
}
