//! HTTP(S) for the guest: the venv's network policy, requests sent with the host's client
//! (system certificates, proxies from the environment or the guest, URL credentials), and
//! response bodies handed out in chunks.
//!
//! The host is a plain transport: it follows no redirects and decodes no content encoding,
//! so the guest's HTTP library (requests, urllib) keeps its own semantics for both.

use super::reply::{Failure, Reply};
use crate::guest::network::Policy;
use crate::http;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use ureq::http::Response;
use ureq::tls::TlsConfig;

/// First chunk of a body sent with the response head, unless the guest asks otherwise.
const FIRST_CHUNK: usize = 256 << 10;
/// Default and largest chunk for `http.read`.
const READ_CHUNK: usize = 1 << 20;
/// Request headers the host's client sets itself.
const HOP_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

/// How the server's certificate is checked (requests' `verify`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Verify {
    System,
    Off,
    Bundle(PathBuf),
}

/// The guest's HTTP requests and the response bodies it has yet to read.
pub struct Http {
    policy: Policy,
    agents: HashMap<Verify, ureq::Agent>,
    streams: HashMap<u64, ureq::BodyReader<'static>>,
    next_stream: u64,
}

impl Http {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            agents: HashMap::new(),
            streams: HashMap::new(),
            next_stream: 1,
        }
    }

    /// `http.request`: meta `{method, url, headers: [[name, value]], timeout: [connect,
    /// read], proxy, verify, chunk}`, body = request body. Replies with the response head
    /// and the first chunk of its body; `stream` names the rest (null when all was sent).
    pub fn request(&mut self, meta: &Map<String, Value>, body: Vec<u8>) -> Reply {
        let url = str_field(meta, "url")?;
        let parsed = url::Url::parse(url)
            .map_err(|e| Failure::new("bad_request", format!("invalid URL `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Failure::new(
                "bad_request",
                format!("unsupported URL scheme `{}`", parsed.scheme()),
            ));
        }
        let host = parsed.host_str().unwrap_or("");
        if !self.policy.allows(host) {
            return Err(Failure::new(
                "denied",
                format!(
                    "network access to `{host}` is not allowed in this venv \
                     (`wasipy-network` in its pyvenv.cfg)"
                ),
            ));
        }
        let verify = verify_of(meta.get("verify"));
        let agent = self.agent(&verify)?;
        let response = send(&agent, meta, url, body)?;
        let chunk = usize_field(meta, "chunk", FIRST_CHUNK).min(super::frame::MAX_BODY);
        self.head_and_first_chunk(response, url, chunk)
    }

    /// `http.read`: meta `{stream, size}`; replies `{eof}` with up to `size` bytes.
    pub fn read(&mut self, meta: &Map<String, Value>) -> Reply {
        let id = stream_id(meta)?;
        let size = usize_field(meta, "size", READ_CHUNK).clamp(1, super::frame::MAX_BODY);
        let reader = self
            .streams
            .get_mut(&id)
            .ok_or_else(|| Failure::new("bad_request", format!("no open stream {id}")))?;
        let result = fill(reader, size);
        let (bytes, eof) = match result {
            Ok(done) => done,
            Err(err) => {
                self.streams.remove(&id);
                return Err(io_failure(&err));
            }
        };
        if eof {
            self.streams.remove(&id);
        }
        Ok((json!({ "eof": eof }), bytes))
    }

    /// `http.close`: meta `{stream}`; drops the rest of a body.
    pub fn close(&mut self, meta: &Map<String, Value>) -> Reply {
        let id = stream_id(meta)?;
        self.streams.remove(&id);
        Ok((json!({}), Vec::new()))
    }

    fn head_and_first_chunk(
        &mut self,
        response: Response<ureq::Body>,
        url: &str,
        chunk: usize,
    ) -> Reply {
        let (parts, body) = response.into_parts();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            // The body handed out is already de-chunked.
            .filter(|(name, _)| *name != "transfer-encoding")
            .map(|(name, value)| (name.as_str().to_owned(), latin1(value.as_bytes())))
            .collect();
        let mut reader = body.into_with_config().limit(u64::MAX).reader();
        let (first, eof) = fill(&mut reader, chunk).map_err(|e| io_failure(&e))?;
        let stream = (!eof).then(|| {
            let id = self.next_stream;
            self.next_stream += 1;
            self.streams.insert(id, reader);
            id
        });
        let meta = json!({
            "status": parts.status.as_u16(),
            "reason": parts.status.canonical_reason().unwrap_or(""),
            "version": format!("{:?}", parts.version),
            "headers": headers,
            "url": url,
            "stream": stream,
        });
        Ok((meta, first))
    }

    fn agent(&mut self, verify: &Verify) -> Result<ureq::Agent, Failure> {
        if let Some(agent) = self.agents.get(verify) {
            return Ok(agent.clone());
        }
        let tls_failure = |e: http::Error| Failure::new("tls", e.to_string());
        let tls = match verify {
            Verify::System => http::trusting(http::root_certs().map_err(tls_failure)?),
            Verify::Off => TlsConfig::builder().disable_verification(true).build(),
            Verify::Bundle(path) => http::trusting(http::bundle_certs(path).map_err(tls_failure)?),
        };
        let agent: ureq::Agent = http::builder(tls)
            .max_redirects(0)
            .save_redirect_history(false)
            .build()
            .into();
        self.agents.insert(verify.clone(), agent.clone());
        Ok(agent)
    }
}

/// Builds and sends one request with the guest's headers, timeouts and proxy.
fn send(
    agent: &ureq::Agent,
    meta: &Map<String, Value>,
    url: &str,
    body: Vec<u8>,
) -> Result<Response<ureq::Body>, Failure> {
    let method = meta.get("method").and_then(Value::as_str).unwrap_or("GET");
    let (bare, auth) =
        http::split_credentials(url).map_err(|e| Failure::new("bad_request", e.to_string()))?;
    let mut builder = ureq::http::Request::builder().method(method).uri(&bare);
    let mut has_auth = false;
    for pair in meta
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if HOP_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        has_auth |= lower == "authorization";
        builder = builder.header(name, value);
    }
    if let (Some(auth), false) = (auth, has_auth) {
        builder = builder.header("authorization", auth);
    }
    let settings = Settings {
        timeouts: timeouts(meta.get("timeout")),
        proxy: proxy_of(meta.get("proxy"))?,
    };
    let bad = |e: ureq::http::Error| Failure::new("bad_request", e.to_string());
    let result = if body.is_empty() && matches!(method, "GET" | "HEAD" | "OPTIONS" | "DELETE") {
        run(agent, builder.body(()).map_err(bad)?, settings)
    } else {
        run(agent, builder.body(body).map_err(bad)?, settings)
    };
    result.map_err(|e| ureq_failure(&e, &http::redact(url)))
}

/// Per-request settings the guest chose.
struct Settings {
    timeouts: (Option<Duration>, Option<Duration>),
    proxy: Option<ureq::Proxy>,
}

fn run<S: ureq::AsSendBody>(
    agent: &ureq::Agent,
    request: ureq::http::Request<S>,
    settings: Settings,
) -> Result<Response<ureq::Body>, ureq::Error> {
    let (connect, read) = settings.timeouts;
    let mut config = agent
        .configure_request(request)
        .timeout_connect(connect)
        .timeout_per_read(read);
    if settings.proxy.is_some() {
        config = config.proxy(settings.proxy);
    }
    agent.run(config.build())
}

/// Reads until `limit` bytes or the end; returns the bytes and whether the end was reached.
fn fill(reader: &mut impl Read, limit: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::with_capacity(limit.min(READ_CHUNK));
    reader.take(limit as u64).read_to_end(&mut buf)?;
    let eof = buf.len() < limit;
    Ok((buf, eof))
}

/// HTTP header values are Latin-1 on the wire; http.client decodes them the same way.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn str_field<'a>(meta: &'a Map<String, Value>, key: &str) -> Result<&'a str, Failure> {
    meta.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::new("bad_request", format!("missing `{key}`")))
}

fn usize_field(meta: &Map<String, Value>, key: &str, default: usize) -> usize {
    meta.get(key)
        .and_then(Value::as_u64)
        .map_or(default, |n| n as usize)
}

fn stream_id(meta: &Map<String, Value>) -> Result<u64, Failure> {
    meta.get("stream")
        .and_then(Value::as_u64)
        .ok_or_else(|| Failure::new("bad_request", "missing `stream`"))
}

fn verify_of(value: Option<&Value>) -> Verify {
    match value {
        Some(Value::Bool(false)) => Verify::Off,
        Some(Value::String(path)) if !path.is_empty() => Verify::Bundle(PathBuf::from(path)),
        _ => Verify::System,
    }
}

/// `[connect, read]` seconds; null or absent means no limit, as in requests.
fn timeouts(value: Option<&Value>) -> (Option<Duration>, Option<Duration>) {
    let secs = |v: Option<&Value>| {
        v.and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
    };
    match value {
        Some(Value::Array(pair)) => (secs(pair.first()), secs(pair.get(1))),
        single => (secs(single), secs(single)),
    }
}

/// The guest's proxy choice: absent or null = the host environment's (`HTTPS_PROXY`,
/// `NO_PROXY`, ...); a URL = that proxy. requests has already applied `NO_PROXY` to it.
fn proxy_of(value: Option<&Value>) -> Result<Option<ureq::Proxy>, Failure> {
    match value.and_then(Value::as_str) {
        Some(url) if !url.is_empty() => ureq::Proxy::new(url).map(Some).map_err(|e| {
            Failure::new(
                "proxy",
                format!("invalid proxy `{}`: {e}", http::redact(url)),
            )
        }),
        _ => Ok(None),
    }
}

fn ureq_failure(err: &ureq::Error, url: &str) -> Failure {
    use ureq::Error as E;
    let kind = match err {
        E::HostNotFound => "dns",
        E::ConnectionFailed => "connect",
        E::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => "connect_timeout",
        E::Timeout(_) => "read_timeout",
        E::Tls(_) | E::Pem(_) | E::Rustls(_) | E::TlsRequired => "tls",
        E::InvalidProxyUrl | E::ConnectProxyFailed(_) => "proxy",
        E::BadUri(_) | E::Http(_) => "bad_request",
        E::Protocol(_) | E::LargeResponseHeader(..) => "protocol",
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => "read_timeout",
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => "connect",
        _ => "connection",
    };
    Failure::new(kind, format!("{url}: {err}"))
}

fn io_failure(err: &std::io::Error) -> Failure {
    if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<ureq::Error>()) {
        let failure = ureq_failure(inner, "reading the response");
        // Whatever broke mid-body is a broken connection, except a timeout.
        let kind = if failure.kind == "read_timeout" {
            "read_timeout"
        } else {
            "protocol"
        };
        return Failure::new(kind, failure.message);
    }
    match err.kind() {
        std::io::ErrorKind::TimedOut => Failure::new("read_timeout", err.to_string()),
        _ => Failure::new("protocol", format!("connection broken: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_verify_follow_requests() {
        let d = |s: f64| Some(Duration::from_secs_f64(s));
        assert_eq!(timeouts(Some(&json!([3, 15.5]))), (d(3.0), d(15.5)));
        assert_eq!(timeouts(Some(&json!(7))), (d(7.0), d(7.0)));
        assert_eq!(timeouts(Some(&json!([null, 2]))), (None, d(2.0)));
        assert_eq!(timeouts(None), (None, None));
        assert_eq!(verify_of(Some(&json!(false))), Verify::Off);
        assert_eq!(verify_of(Some(&json!(true))), Verify::System);
        assert_eq!(
            verify_of(Some(&json!("/etc/ca.pem"))),
            Verify::Bundle("/etc/ca.pem".into())
        );
    }

    #[test]
    fn fill_reports_the_end() {
        let mut data: &[u8] = b"0123456789";
        assert_eq!(fill(&mut data, 4).unwrap(), (b"0123".to_vec(), false));
        assert_eq!(fill(&mut data, 100).unwrap(), (b"456789".to_vec(), true));
    }
}
