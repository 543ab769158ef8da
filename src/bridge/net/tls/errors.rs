//! TLS failures as CPython's `ssl` reports them: the exception class (by `kind`), OpenSSL's
//! reason name and CPython's message, and a certificate error's verify code and message.

use crate::bridge::reply::Failure;
use rustls::{AlertDescription, CertificateError};
use serde_json::json;

/// CPython's messages end with where in `_ssl.c` they were raised; this is where.
const WHERE: &str = "(_ssl.c:1000)";

/// Builds the rustls errors the verifier returns.
pub struct VerifyFailure;

impl VerifyFailure {
    /// No trusted root at all: every chain has an unknown issuer, as with OpenSSL.
    pub fn no_roots() -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    }
}

/// A general `ssl.SSLError` with OpenSSL's reason name.
pub fn ssl(reason: &'static str, text: &str) -> Failure {
    Failure {
        errno: Some(reason),
        ..Failure::new("ssl", format!("[SSL: {reason}] {text} {WHERE}"))
    }
}

/// The peer closed the transport without a TLS close (`ssl.SSLEOFError`).
pub fn eof() -> Failure {
    Failure {
        errno: Some("UNEXPECTED_EOF_WHILE_READING"),
        ..Failure::new(
            "ssl_eof",
            format!("EOF occurred in violation of protocol {WHERE}"),
        )
    }
}

/// The peer closed the TLS session cleanly (`ssl.SSLZeroReturnError`).
pub fn zero_return() -> Failure {
    Failure::new(
        "ssl_zero_return",
        format!("TLS/SSL connection has been closed (EOF) {WHERE}"),
    )
}

/// The operation needs more input (`ssl.SSLWantReadError`) or output room.
pub fn want(read: bool) -> Failure {
    let (kind, what) = if read {
        ("ssl_want_read", "read")
    } else {
        ("ssl_want_write", "write")
    };
    Failure::new(
        kind,
        format!("The operation did not complete ({what}) {WHERE}"),
    )
}

/// A rustls error as the `ssl` exception CPython raises for the same failure.
pub fn from_rustls(err: &rustls::Error, hostname: Option<&str>) -> Failure {
    match err {
        rustls::Error::InvalidCertificate(cert) => verify(cert, hostname),
        rustls::Error::AlertReceived(alert) => {
            let (reason, text) = alert_names(*alert);
            Failure {
                errno: Some(reason),
                ..Failure::new("ssl", format!("[SSL: {reason}] {text} {WHERE}"))
            }
        }
        rustls::Error::NoCertificatesPresented => ssl(
            "PEER_DID_NOT_RETURN_A_CERTIFICATE",
            "peer did not return a certificate",
        ),
        rustls::Error::PeerIncompatible(_) => ssl("NO_SHARED_CIPHER", &err.to_string()),
        other => ssl("SSL_ERROR_SSL", &other.to_string()),
    }
}

/// A certificate error: `ssl.SSLCertVerificationError` with OpenSSL's verify code.
fn verify(err: &CertificateError, hostname: Option<&str>) -> Failure {
    let (code, text) = match err {
        CertificateError::UnknownIssuer => {
            (20, "unable to get local issuer certificate".to_owned())
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            62,
            format!(
                "Hostname mismatch, certificate is not valid for '{}'.",
                hostname.unwrap_or("")
            ),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            (10, "certificate has expired".to_owned())
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            (9, "certificate is not yet valid".to_owned())
        }
        CertificateError::Revoked => (23, "certificate revoked".to_owned()),
        CertificateError::BadSignature => (7, "certificate signature failure".to_owned()),
        other => (
            1,
            format!("unspecified certificate verification error ({other:?})"),
        ),
    };
    Failure {
        errno: Some("CERTIFICATE_VERIFY_FAILED"),
        ..Failure::new(
            "ssl_verify",
            format!("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {text} {WHERE}"),
        )
    }
    .with_detail(json!({ "code": code, "message": text }))
}

/// OpenSSL's reason name and text for a received alert (`TLSV1_ALERT_UNKNOWN_CA`).
fn alert_names(alert: AlertDescription) -> (&'static str, String) {
    let (reason, name) = match alert {
        AlertDescription::UnknownCA => ("TLSV1_ALERT_UNKNOWN_CA", "unknown ca"),
        AlertDescription::BadCertificate => ("SSLV3_ALERT_BAD_CERTIFICATE", "bad certificate"),
        AlertDescription::CertificateExpired => {
            ("SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate expired")
        }
        AlertDescription::HandshakeFailure => {
            ("SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake failure")
        }
        AlertDescription::ProtocolVersion => ("TLSV1_ALERT_PROTOCOL_VERSION", "protocol version"),
        AlertDescription::CertificateRequired => {
            ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate required")
        }
        AlertDescription::NoApplicationProtocol => (
            "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
            "no application protocol",
        ),
        AlertDescription::DecryptError => ("TLSV1_ALERT_DECRYPT_ERROR", "decrypt error"),
        AlertDescription::InternalError => ("TLSV1_ALERT_INTERNAL_ERROR", "internal error"),
        _ => ("TLSV1_ALERT", "alert"),
    };
    let prefix = if reason.starts_with("SSLV3") {
        "sslv3 alert"
    } else {
        "tlsv1 alert"
    };
    (reason, format!("{prefix} {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_as_cpython_gives_them() {
        let unknown = from_rustls(&VerifyFailure::no_roots(), Some("example.org"));
        assert_eq!(unknown.kind, "ssl_verify");
        assert!(unknown.message.starts_with(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"
        ));
        assert_eq!(unknown.detail.as_ref().unwrap()["code"], 20);
        let name = from_rustls(
            &rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
            Some("wrong.example"),
        );
        assert!(name
            .message
            .contains("Hostname mismatch, certificate is not valid for 'wrong.example'."));
        let alert = from_rustls(
            &rustls::Error::AlertReceived(AlertDescription::UnknownCA),
            None,
        );
        assert_eq!(
            alert.message,
            "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1000)"
        );
    }
}
