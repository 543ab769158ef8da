//! What a bridge operation answers: a reply (meta and body), or a failure the guest turns
//! into the exception its library would raise.

use serde_json::{json, Value};

/// A failed operation: `kind` tells the guest which exception to raise.
#[derive(Debug)]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
    /// For kind `os`: the errno name (`ENOENT`), which the guest maps to its own numbers.
    pub errno: Option<&'static str>,
    /// More for the guest's exception (a certificate error's verify code, say).
    pub detail: Option<Value>,
}

impl Failure {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            errno: None,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The meta of the error frame carrying this failure.
    pub fn meta(&self) -> Value {
        json!({ "kind": self.kind, "message": self.message, "errno": self.errno, "detail": self.detail })
    }
}

pub type Reply = Result<(Value, Vec<u8>), Failure>;
