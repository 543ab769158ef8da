//! The bridge's wire format, version 1. Both directions use the same frame:
//!
//! ```text
//! offset  size  field
//!      0     4  magic, b"WPYB"
//!      4     1  version (1)
//!      5     1  kind: 1 request (guest -> host), 2 reply, 3 error reply
//!      6     2  reserved, zero
//!      8     4  meta length, u32 little-endian (at most MAX_META)
//!     12     4  body length, u32 little-endian (at most MAX_BODY)
//!     16     .  meta: a UTF-8 JSON object ({"op": ...} in requests)
//!      .     .  body: raw bytes (a request body, a chunk of a response)
//! ```
//!
//! The guest writes one request frame and reads exactly one reply or error frame back.
//! An error reply's meta is `{"kind": ..., "message": ...}`. Anything the host cannot parse
//! gets an error reply (kind `bad_frame`) and the channel's input is discarded.

use serde_json::{Map, Value};

pub const MAGIC: [u8; 4] = *b"WPYB";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16;
/// Largest meta object accepted (headers of one HTTP request fit easily).
pub const MAX_META: usize = 1 << 20;
/// Largest body in one frame. Bigger payloads travel as several frames (response bodies
/// are read chunk by chunk), so guest memory never holds more than this at once.
pub const MAX_BODY: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request = 1,
    Reply = 2,
    Error = 3,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Kind::Request),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Error),
            _ => None,
        }
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub kind: Kind,
    pub meta: Map<String, Value>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("bad magic (not a wasipy bridge frame)")]
    Magic,
    #[error("unsupported frame version {0} (this host speaks {VERSION})")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("meta of {0} bytes exceeds the limit of {MAX_META}")]
    MetaTooLarge(usize),
    #[error("body of {0} bytes exceeds the limit of {MAX_BODY}")]
    BodyTooLarge(usize),
    #[error("meta is not a UTF-8 JSON object: {0}")]
    Meta(String),
}

/// What the bytes received so far hold.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A whole frame, and how many bytes it used.
    Frame(Frame, usize),
    /// The bytes can never become a valid frame.
    Invalid(FrameError),
}

fn le_u32(bytes: &[u8]) -> usize {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

/// Decodes the frame at the start of `buf`. Limits are checked on the header alone, so an
/// oversized frame is refused before its payload is buffered.
pub fn parse(buf: &[u8]) -> Parsed {
    if buf.len() < HEADER_LEN {
        // A wrong prefix is known as soon as it arrives.
        let n = buf.len().min(4);
        if buf[..n] != MAGIC[..n] {
            return Parsed::Invalid(FrameError::Magic);
        }
        return Parsed::Incomplete;
    }
    if buf[..4] != MAGIC {
        return Parsed::Invalid(FrameError::Magic);
    }
    if buf[4] != VERSION {
        return Parsed::Invalid(FrameError::Version(buf[4]));
    }
    let Some(kind) = Kind::from_byte(buf[5]) else {
        return Parsed::Invalid(FrameError::Kind(buf[5]));
    };
    let (meta_len, body_len) = (le_u32(&buf[8..12]), le_u32(&buf[12..16]));
    if meta_len > MAX_META {
        return Parsed::Invalid(FrameError::MetaTooLarge(meta_len));
    }
    if body_len > MAX_BODY {
        return Parsed::Invalid(FrameError::BodyTooLarge(body_len));
    }
    let total = HEADER_LEN + meta_len + body_len;
    if buf.len() < total {
        return Parsed::Incomplete;
    }
    let meta_bytes = &buf[HEADER_LEN..HEADER_LEN + meta_len];
    let meta = match serde_json::from_slice::<Value>(meta_bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Parsed::Invalid(FrameError::Meta("not an object".into())),
        Err(e) => return Parsed::Invalid(FrameError::Meta(e.to_string())),
    };
    let body = buf[HEADER_LEN + meta_len..total].to_vec();
    Parsed::Frame(Frame { kind, meta, body }, total)
}

/// Encodes a frame. The caller keeps `body` within [`MAX_BODY`].
pub fn encode(kind: Kind, meta: &Value, body: &[u8]) -> Vec<u8> {
    let meta = serde_json::to_vec(meta).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(HEADER_LEN + meta.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, kind as u8, 0, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(body);
    out
}

/// An error reply frame.
pub fn error(kind: &str, message: &str) -> Vec<u8> {
    encode(
        Kind::Error,
        &serde_json::json!({ "kind": kind, "message": message }),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Found by the `bridge_frame` fuzz target: numbers in meta must survive a decode and
    /// re-encode exactly (serde_json's `float_roundtrip`).
    #[test]
    fn numbers_in_meta_round_trip_exactly() {
        let meta = br#"{"op":8586666666666664.666666,"t":0.1,"big":1e308}"#;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[VERSION, 1, 0, 0]);
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(meta);
        let Parsed::Frame(frame, _) = parse(&bytes) else {
            panic!("not a frame")
        };
        let again = encode(frame.kind, &Value::Object(frame.meta.clone()), &frame.body);
        assert_eq!(parse(&again), Parsed::Frame(frame, again.len()));
    }

    fn header(version: u8, kind: u8, meta_len: u32, body_len: u32) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&[version, kind, 0, 0]);
        h.extend_from_slice(&meta_len.to_le_bytes());
        h.extend_from_slice(&body_len.to_le_bytes());
        h
    }

    #[test]
    fn round_trips() {
        let bytes = encode(Kind::Request, &json!({"op": "ping"}), b"abc");
        let Parsed::Frame(frame, used) = parse(&bytes) else {
            panic!("not parsed")
        };
        assert_eq!(used, bytes.len());
        assert_eq!(frame.kind, Kind::Request);
        assert_eq!(frame.meta["op"], "ping");
        assert_eq!(frame.body, b"abc");
    }

    #[test]
    fn partial_input_waits_and_bad_input_is_refused() {
        let whole = encode(Kind::Request, &json!({"op": "ping"}), b"xyz");
        for cut in [0, 1, 3, 4, 15, 16, whole.len() - 1] {
            assert_eq!(parse(&whole[..cut]), Parsed::Incomplete, "cut at {cut}");
        }
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (b"GET / HTTP/1.1\r\n".to_vec(), FrameError::Magic),
            (b"WX".to_vec(), FrameError::Magic),
            (header(2, 1, 0, 0), FrameError::Version(2)),
            (header(1, 9, 0, 0), FrameError::Kind(9)),
            (
                header(1, 1, u32::MAX, 0),
                FrameError::MetaTooLarge(u32::MAX as usize),
            ),
            (
                header(1, 1, 2, (MAX_BODY + 1) as u32),
                FrameError::BodyTooLarge(MAX_BODY + 1),
            ),
            (
                [header(1, 1, 2, 0), b"[]".to_vec()].concat(),
                FrameError::Meta("not an object".into()),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                parse(&bytes),
                Parsed::Invalid(expected.clone()),
                "{expected}"
            );
        }
        let bad_json = [header(1, 1, 3, 0), b"{x}".to_vec()].concat();
        assert!(matches!(
            parse(&bad_json),
            Parsed::Invalid(FrameError::Meta(_))
        ));
    }
}
