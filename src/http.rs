//! The host's HTTP(S) client: the system certificate store plus pip's certificate variables,
//! proxies from the environment, credentials taken from the URL, downloads with progress.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Variables naming extra CA bundles, in pip's order of preference.
const CA_BUNDLE_VARS: &[&str] = &["PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{url}`: {source}")]
    Request {
        url: String,
        source: Box<ureq::Error>,
    },
    #[error("`{url}`: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("`{url}`: reading the response failed: {source}")]
    Body { url: String, source: std::io::Error },
    #[error("writing the download of `{url}` failed: {source}")]
    Write { url: String, source: std::io::Error },
    #[error("`{url}` is not a valid URL")]
    BadUrl { url: String },
    #[error("cannot read CA bundle `{path}` (from `{var}`): {source}")]
    CaBundle {
        path: PathBuf,
        var: &'static str,
        source: std::io::Error,
    },
}

/// A shared client, built once per process.
pub fn agent() -> Result<&'static ureq::Agent, Error> {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    if let Some(agent) = AGENT.get() {
        return Ok(agent);
    }
    let agent: ureq::Agent = builder(trusting(root_certs()?))
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_recv_body(Some(Duration::from_secs(120)))
        .user_agent(concat!("wasipy/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    Ok(AGENT.get_or_init(|| agent))
}

/// The host client's settings: `tls`, proxies from the environment, error statuses returned
/// as responses.
fn builder(tls: TlsConfig) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(ureq::Proxy::try_from_env())
        .http_status_as_error(false)
}

/// TLS that trusts exactly `roots`.
fn trusting(roots: Vec<Certificate<'static>>) -> TlsConfig {
    TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}

/// The operating system's trusted roots plus any bundle named by pip's variables.
pub(crate) fn root_certs() -> Result<Vec<Certificate<'static>>, Error> {
    let native = rustls_native_certs::load_native_certs();
    let mut certs: Vec<Certificate<'static>> = native
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    for var in CA_BUNDLE_VARS {
        let Some(path) = std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
        else {
            continue;
        };
        if path.is_dir() {
            continue; // a directory of hashed certs (SSL_CERT_DIR style): read by the native loader
        }
        certs.extend(read_bundle(&path, var)?);
    }
    Ok(certs)
}

fn read_bundle(path: &Path, var: &'static str) -> Result<Vec<Certificate<'static>>, Error> {
    let pem = std::fs::read(path).map_err(|source| Error::CaBundle {
        path: path.to_owned(),
        var,
        source,
    })?;
    Ok(ureq::tls::parse_pem(&pem)
        .flatten()
        .filter_map(|item| match item {
            PemItem::Certificate(cert) => Some(cert.to_owned()),
            _ => None,
        })
        .collect())
}

/// Splits `user:password@` out of a URL, returning the bare URL and a Basic auth header.
pub fn split_credentials(raw: &str) -> Result<(String, Option<String>), Error> {
    let mut url = url::Url::parse(raw).map_err(|_| Error::BadUrl {
        url: raw.to_owned(),
    })?;
    if url.username().is_empty() && url.password().is_none() {
        return Ok((raw.to_owned(), None));
    }
    let user = percent_decode(url.username());
    let password = url.password().map(percent_decode).unwrap_or_default();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url.to_string(), Some(format!("Basic {token}"))))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Sends a GET and returns the response if its status is 2xx.
pub fn get(url: &str) -> Result<ureq::http::Response<ureq::Body>, Error> {
    let (bare, auth) = split_credentials(url)?;
    let mut request = agent()?.get(&bare);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.call().map_err(|source| Error::Request {
        url: redact(url),
        source: Box::new(source),
    })?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(Error::Status {
            url: redact(url),
            status,
        });
    }
    Ok(response)
}

/// Fetches a text page (an index page; limited to 64 MiB).
pub fn get_text(url: &str) -> Result<String, Error> {
    let mut response = get(url)?;
    response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|source| Error::Request {
            url: redact(url),
            source: Box::new(source),
        })
}

/// Streams `url` into `out`, showing progress on a terminal; returns (SHA-256 hex, length).
pub fn download(url: &str, out: &mut impl Write, label: &str) -> Result<(String, u64), Error> {
    let mut response = get(url)?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bar = progress_bar(total, label);
    let mut reader = response.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|source| Error::Body {
            url: redact(url),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|source| Error::Write {
            url: redact(url),
            source,
        })?;
        len += n as u64;
        bar.set_position(len);
    }
    bar.finish_and_clear();
    Ok((hex::encode(hasher.finalize()), len))
}

/// A byte progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress_bar(total: Option<u64>, label: &str) -> indicatif::ProgressBar {
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// The URL without its password, for messages.
pub fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_move_to_a_header() {
        let (url, auth) = split_credentials("https://u%40x:p%2Bw@example.test/simple/").unwrap();
        assert_eq!(url, "https://example.test/simple/");
        let token = base64::engine::general_purpose::STANDARD.encode("u@x:p+w");
        assert_eq!(auth.as_deref(), Some(format!("Basic {token}").as_str()));
        let (url, auth) = split_credentials("https://example.test/simple/").unwrap();
        assert_eq!((url.as_str(), auth), ("https://example.test/simple/", None));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("https://u:secret@h.test/x"),
            "https://u:****@h.test/x"
        );
        assert_eq!(redact("https://h.test/x"), "https://h.test/x");
    }
}
