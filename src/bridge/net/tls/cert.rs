//! `SSLSocket.getpeercert()`'s dictionary: a certificate's subject, issuer, validity, serial
//! number and subject alternative names, in the shapes and names CPython uses.

use serde_json::{json, Value};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::x509::X509Name;

/// OpenSSL's long names of the attributes certificates commonly carry, by OID.
const NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "commonName"),
    ("2.5.4.4", "surname"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "countryName"),
    ("2.5.4.7", "localityName"),
    ("2.5.4.8", "stateOrProvinceName"),
    ("2.5.4.9", "streetAddress"),
    ("2.5.4.10", "organizationName"),
    ("2.5.4.11", "organizationalUnitName"),
    ("2.5.4.12", "title"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.42", "givenName"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("0.9.2342.19200300.100.1.25", "domainComponent"),
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The dictionary of DER certificate `der` (lists where CPython has tuples); `None` if it
/// does not parse.
pub fn describe(der: &[u8]) -> Option<Value> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut dict = json!({
        "subject": name(cert.subject()),
        "issuer": name(cert.issuer()),
        "version": cert.version().0 + 1,
        "serialNumber": serial(cert.raw_serial()),
        "notBefore": time(&cert.validity().not_before),
        "notAfter": time(&cert.validity().not_after),
    });
    let alt_names = alt_names(&cert);
    if !alt_names.is_empty() {
        dict["subjectAltName"] = Value::Array(alt_names);
    }
    Some(dict)
}

/// A distinguished name as CPython's tuple of RDNs, each a tuple of (name, value) pairs.
fn name(name: &X509Name<'_>) -> Value {
    let rdns = name.iter_rdn().map(|rdn| {
        let pairs = rdn.iter().map(|attr| {
            let oid = attr.attr_type().to_id_string();
            let long = NAMES
                .iter()
                .find(|(o, _)| *o == oid)
                .map_or(oid.clone(), |(_, n)| (*n).to_owned());
            json!([long, attr.as_str().unwrap_or_default()])
        });
        Value::Array(pairs.collect())
    });
    Value::Array(rdns.collect())
}

/// The serial number as OpenSSL prints it: upper-case hex, two digits per byte.
fn serial(raw: &[u8]) -> String {
    let raw = match raw {
        [0, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

/// A time as OpenSSL prints it (`Jun  1 12:00:00 2025 GMT`).
fn time(t: &x509_parser::time::ASN1Time) -> String {
    let t = t.to_datetime();
    let month = MONTHS[usize::from(u8::from(t.month())) - 1];
    format!(
        "{month} {:>2} {:02}:{:02}:{:02} {} GMT",
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

fn alt_names(cert: &X509Certificate<'_>) -> Vec<Value> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) => Some(json!(["DNS", s])),
            GeneralName::RFC822Name(s) => Some(json!(["email", s])),
            GeneralName::URI(s) => Some(json!(["URI", s])),
            GeneralName::IPAddress(bytes) => ip(bytes).map(|ip| json!(["IP Address", ip])),
            _ => None,
        })
        .collect()
}

fn ip(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        // OpenSSL prints IPv6 addresses in full, upper-case, without compression.
        16 => Some(
            bytes
                .chunks(2)
                .map(|c| format!("{:X}", u16::from_be_bytes([c[0], c[1]])))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_as_openssl_prints_them() {
        let cases: &[(&[u8], &str)] =
            &[(&[0x0a, 0xbc], "0ABC"), (&[0x00, 0x80], "80"), (&[0], "00")];
        for (raw, text) in cases {
            assert_eq!(serial(raw), *text);
        }
        assert_eq!(ip(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        assert_eq!(describe(b"not a certificate"), None);
    }
}
