//! rustls configurations from the guest's `SSLContext` settings: trusted roots (given, or
//! the system store plus pip's certificate variables), verification mode and hostname
//! checks, client or server certificates, ALPN and protocol versions.

use super::errors::{self, VerifyFailure};
use crate::bridge::reply::Failure;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// CPython's `ssl.CERT_NONE` and `ssl.CERT_OPTIONAL`.
const CERT_NONE: u8 = 0;
const CERT_OPTIONAL: u8 = 1;
/// `TLSVersion` values: `MINIMUM_SUPPORTED`, `MAXIMUM_SUPPORTED`, 1.2 and 1.3.
const MIN_SUPPORTED: i32 = -2;
const MAX_SUPPORTED: i32 = -1;
const TLS12: i32 = 0x303;
const TLS13: i32 = 0x304;
/// How many configurations one guest keeps built.
const CACHE: usize = 32;

/// The settings of one guest `SSLContext`, as its `wrap_*` sends them.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub verify_mode: u8,
    pub check_hostname: bool,
    /// PEM certificates to trust (from `load_verify_locations`).
    pub cadata: Vec<String>,
    /// Whether the system store is trusted too (`load_default_certs`).
    pub default_certs: bool,
    /// Our certificate chain and key (`load_cert_chain`), PEM.
    pub chain: Option<String>,
    pub key: Option<String>,
    pub alpn: Vec<String>,
    pub min: Option<i32>,
    pub max: Option<i32>,
}

/// Built configurations by their settings' text: contexts are reused for many connections.
#[derive(Default)]
pub struct Configs {
    clients: HashMap<String, Arc<ClientConfig>>,
    servers: HashMap<String, Arc<ServerConfig>>,
}

impl Configs {
    pub fn client(&mut self, key: &str, settings: &Settings) -> Result<Arc<ClientConfig>, Failure> {
        if let Some(config) = self.clients.get(key) {
            return Ok(config.clone());
        }
        let config = Arc::new(client(settings)?);
        if self.clients.len() >= CACHE {
            self.clients.clear();
        }
        self.clients.insert(key.to_owned(), config.clone());
        Ok(config)
    }

    pub fn server(&mut self, key: &str, settings: &Settings) -> Result<Arc<ServerConfig>, Failure> {
        if let Some(config) = self.servers.get(key) {
            return Ok(config.clone());
        }
        let config = Arc::new(server(settings)?);
        if self.servers.len() >= CACHE {
            self.servers.clear();
        }
        self.servers.insert(key.to_owned(), config.clone());
        Ok(config)
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn versions(
    settings: &Settings,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Failure> {
    let min = settings.min.unwrap_or(MIN_SUPPORTED);
    let max = settings.max.unwrap_or(MAX_SUPPORTED);
    let allows = |v: i32| (min == MIN_SUPPORTED || min <= v) && (max == MAX_SUPPORTED || max >= v);
    let mut list = Vec::new();
    if allows(TLS13) {
        list.push(&rustls::version::TLS13);
    }
    if allows(TLS12) {
        list.push(&rustls::version::TLS12);
    }
    if list.is_empty() {
        return Err(errors::ssl(
            "NO_PROTOCOLS_AVAILABLE",
            "no protocols available",
        ));
    }
    Ok(list)
}

fn client(settings: &Settings) -> Result<ClientConfig, Failure> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| errors::ssl("NO_PROTOCOLS_AVAILABLE", &e.to_string()))?;
    let verifier = Verifier::new(settings)?;
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match own_identity(settings)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| errors::ssl("KEY_VALUES_MISMATCH", &e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    Ok(config)
}

fn server(settings: &Settings) -> Result<ServerConfig, Failure> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| errors::ssl("NO_PROTOCOLS_AVAILABLE", &e.to_string()))?;
    let roots = roots(settings)?;
    let builder = if settings.verify_mode == CERT_NONE || roots.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
        let verifier = if settings.verify_mode == CERT_OPTIONAL {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| errors::ssl("CERTIFICATE_VERIFY_FAILED", &e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    };
    let (chain, key) = own_identity(settings)?.ok_or_else(|| {
        errors::ssl(
            "NO_CERTIFICATE_ASSIGNED",
            "no certificate assigned (call load_cert_chain)",
        )
    })?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| errors::ssl("KEY_VALUES_MISMATCH", &e.to_string()))?;
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    Ok(config)
}

/// Our certificate chain and private key, if `load_cert_chain` gave them.
fn own_identity(
    settings: &Settings,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, Failure> {
    let Some(chain) = &settings.chain else {
        return Ok(None);
    };
    let certs = pem_certs(chain)?;
    if certs.is_empty() {
        return Err(errors::ssl(
            "PEM_LIB",
            "no certificate in the certificate file",
        ));
    }
    let key_pem = settings.key.as_deref().unwrap_or(chain);
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| errors::ssl("PEM_LIB", "no usable private key in the key file"))?;
    Ok(Some((certs, key)))
}

fn pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, Failure> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| errors::ssl("PEM_LIB", &format!("bad certificate data: {e}")))
}

/// The roots to trust: the context's own, plus the host's defaults if it asked for them.
fn roots(settings: &Settings) -> Result<RootCertStore, Failure> {
    let mut store = RootCertStore::empty();
    for pem in &settings.cadata {
        for cert in pem_certs(pem)? {
            store
                .add(cert)
                .map_err(|e| errors::ssl("X509_LIB", &format!("bad CA certificate: {e}")))?;
        }
    }
    if settings.default_certs {
        store.add_parsable_certificates(default_roots()?.iter().cloned());
    }
    Ok(store)
}

/// The system store plus `PIP_CERT`, `REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE`, read once.
fn default_roots() -> Result<&'static [CertificateDer<'static>], Failure> {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return Ok(roots);
    }
    let certs = crate::http::root_certs().map_err(|e| errors::ssl("X509_LIB", &e.to_string()))?;
    let ders = certs
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    Ok(ROOTS.get_or_init(|| ders))
}

/// Verifies servers as the guest's context says: not at all (`CERT_NONE`), or the chain
/// against the roots, with or without the host name (`check_hostname`).
#[derive(Debug)]
struct Verifier {
    /// `None` with `CERT_NONE`; `Err` when no root is trusted (every certificate fails).
    chain: Option<Result<Arc<WebPkiServerVerifier>, ()>>,
    check_hostname: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Verifier {
    fn new(settings: &Settings) -> Result<Self, Failure> {
        let chain = if settings.verify_mode == CERT_NONE {
            None
        } else {
            let roots = roots(settings)?;
            Some(if roots.is_empty() {
                Err(())
            } else {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|_| ())
            })
        };
        Ok(Self {
            chain,
            check_hostname: settings.check_hostname,
            algorithms: provider().signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verifier = match &self.chain {
            None => return Ok(ServerCertVerified::assertion()),
            Some(Err(())) => return Err(VerifyFailure::no_roots()),
            Some(Ok(verifier)) => verifier,
        };
        match verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions_from_minimum_and_maximum() {
        let cases: &[(Option<i32>, Option<i32>, usize)] = &[
            (None, None, 2),
            (Some(TLS13), None, 1),
            (None, Some(TLS12), 1),
            (Some(0x301), Some(0x302), 0),
        ];
        for (min, max, count) in cases {
            let settings = Settings {
                min: *min,
                max: *max,
                ..Settings::default()
            };
            assert_eq!(
                versions(&settings).map(|v| v.len()).unwrap_or(0),
                *count,
                "{min:?} {max:?}"
            );
        }
    }
}
