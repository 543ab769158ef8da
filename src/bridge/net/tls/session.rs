//! One TLS session (rustls, client or server) and the wire its records travel: the guest's
//! socket, read and written by the host, or memory buffers the guest passes (`MemoryBIO`).

use super::{cert, config, errors};
use crate::bridge::errno;
use crate::bridge::net::meta::{bad, text, Meta};
use crate::bridge::net::wait::{self, Deadline};
use crate::bridge::reply::{Failure, Reply};
use config::Configs;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};
use serde_json::{json, Value};
use socket2::Socket;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::AtomicBool;

/// Largest plaintext one read returns.
const MAX_READ: usize = 1 << 20;

/// One TLS session.
pub struct Session {
    conn: Connection,
    hostname: Option<String>,
    /// Whether the peer's certificate was verified (`getpeercert()` is empty otherwise).
    verified: bool,
    /// Decrypted bytes not yet read by the guest.
    plaintext: usize,
    closing: bool,
}

impl Session {
    pub fn has_plaintext(&self) -> bool {
        self.plaintext > 0
    }

    /// How many decrypted bytes wait to be read.
    pub(super) fn pending(&self) -> usize {
        self.plaintext
    }

    pub(super) fn new(configs: &mut Configs, meta: &Meta) -> Result<Self, Failure> {
        let context = meta.get("context").cloned().unwrap_or(json!({}));
        let key = context.to_string();
        let settings: config::Settings =
            serde_json::from_value(context).map_err(|e| bad(format!("bad `context`: {e}")))?;
        let hostname = text(meta, "hostname").map(str::to_owned);
        let conn = if meta.get("server_side").and_then(Value::as_bool) == Some(true) {
            let config = configs.server(&key, &settings)?;
            let server =
                ServerConnection::new(config).map_err(|e| errors::from_rustls(&e, None))?;
            Connection::Server(server)
        } else {
            let config = configs.client(&key, &settings)?;
            let name = match hostname.as_deref() {
                Some(h) => ServerName::try_from(h.to_owned())
                    .map_err(|_| errno::os("EINVAL", format!("invalid server_hostname `{h}`")))?,
                // No name to check or send (check_hostname is off): the guest checked that.
                None => ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()),
            };
            let client =
                ClientConnection::new(config, name).map_err(|e| errors::from_rustls(&e, None))?;
            Connection::Client(client)
        };
        Ok(Self {
            conn,
            hostname,
            verified: settings.verify_mode != 0,
            plaintext: 0,
            closing: false,
        })
    }

    fn process(&mut self, wire: &mut Wire<'_>) -> Result<(), Failure> {
        match self.conn.process_new_packets() {
            Ok(state) => {
                self.plaintext = state.plaintext_bytes_to_read();
                Ok(())
            }
            Err(err) => {
                let _ = wire.flush(&mut self.conn); // the alert telling the peer why
                Err(errors::from_rustls(&err, self.hostname.as_deref()))
            }
        }
    }

    pub(super) fn handshake(&mut self, wire: &mut Wire<'_>) -> Result<(), Failure> {
        loop {
            wire.flush(&mut self.conn)?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if !wire.fill(&mut self.conn)? {
                self.process(wire)?;
                return Err(errors::eof());
            }
            self.process(wire)?;
        }
    }

    pub(super) fn read(&mut self, wire: &mut Wire<'_>, n: usize) -> Result<Vec<u8>, Failure> {
        if self.conn.is_handshaking() {
            self.handshake(wire)?;
        }
        let mut buf = vec![0u8; n.min(MAX_READ)];
        if buf.is_empty() {
            return Ok(buf);
        }
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => return Err(errors::zero_return()),
                Ok(got) => {
                    self.plaintext = self.plaintext.saturating_sub(got);
                    buf.truncate(got);
                    return Ok(buf);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    wire.flush(&mut self.conn)?;
                    wire.fill(&mut self.conn)?;
                    self.process(wire)?;
                }
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Err(errors::eof()),
                Err(e) => return Err(errors::ssl("SSL_ERROR_SSL", &e.to_string())),
            }
        }
    }

    pub(super) fn write(&mut self, wire: &mut Wire<'_>, data: &[u8]) -> Result<usize, Failure> {
        if self.conn.is_handshaking() {
            self.handshake(wire)?;
        }
        let n = self
            .conn
            .writer()
            .write(data)
            .map_err(|e| errors::ssl("SSL_ERROR_SSL", &e.to_string()))?;
        match wire.flush(&mut self.conn) {
            // Accepted and buffered: the next operation sends the rest.
            Err(f) if f.kind == "ssl_want_write" && n > 0 => Ok(n),
            other => other.map(|()| n),
        }
    }

    pub(super) fn shutdown(&mut self, wire: &mut Wire<'_>) -> Result<(), Failure> {
        if !self.closing {
            self.conn.send_close_notify();
            self.closing = true;
        }
        wire.flush(&mut self.conn)
    }

    /// Version, cipher, ALPN protocol and the peer's certificate (DER in the body).
    pub(super) fn info(&self) -> Reply {
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => Some("TLSv1.3"),
            Some(rustls::ProtocolVersion::TLSv1_2) => Some("TLSv1.2"),
            _ => None,
        };
        let cipher = self.conn.negotiated_cipher_suite().map(|suite| {
            let name = openssl_cipher_name(&format!("{:?}", suite.suite()));
            let bits = if name.contains("128") { 128 } else { 256 };
            json!([name, version.unwrap_or("TLSv1.2"), bits])
        });
        let alpn = self
            .conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let der = self
            .conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|c| c.as_ref().to_vec());
        let described = match (&der, self.verified) {
            (Some(der), true) => cert::describe(der).unwrap_or(json!({})),
            _ => json!({}),
        };
        let meta = json!({
            "version": version,
            "cipher": cipher,
            "alpn": alpn,
            "has_cert": der.is_some(),
            "cert": described,
            "handshaking": self.conn.is_handshaking(),
            "pending": self.plaintext,
        });
        Ok((meta, der.unwrap_or_default()))
    }
}

/// OpenSSL's name for a rustls suite (`TLS13_AES_128_GCM_SHA256` is `TLS_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` is `ECDHE-RSA-AES128-GCM-SHA256`).
fn openssl_cipher_name(rustls_name: &str) -> String {
    if let Some(rest) = rustls_name.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    let rest = rustls_name.trim_start_matches("TLS_");
    let Some((kx, cipher)) = rest.split_once("_WITH_") else {
        return rustls_name.to_owned();
    };
    let cipher = cipher
        .replace("AES_128", "AES128")
        .replace("AES_256", "AES256")
        .replace("_POLY1305_SHA256", "_POLY1305");
    format!("{}-{}", kx.replace('_', "-"), cipher.replace('_', "-"))
}

/// Where a session's TLS bytes go: the host socket, or buffers the guest passes.
pub(super) enum Wire<'a> {
    Socket {
        socket: &'a Socket,
        deadline: Deadline,
        stop: Option<&'a AtomicBool>,
    },
    Bio {
        incoming: &'a [u8],
        eof: bool,
        outgoing: Vec<u8>,
    },
}

impl Wire<'_> {
    /// Gives `conn` more received TLS bytes; `false` at the end of the transport.
    pub(super) fn fill(&mut self, conn: &mut Connection) -> Result<bool, Failure> {
        match self {
            Wire::Socket {
                socket,
                deadline,
                stop,
            } => loop {
                let mut reader: &Socket = socket;
                match conn.read_tls(&mut reader) {
                    Ok(n) => return Ok(n > 0),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if !deadline.blocking {
                            return Err(errors::want(true));
                        }
                        wait::wait(sock_fd(socket), libc::POLLIN, *deadline, *stop)?;
                    }
                    Err(e) => return Err(errno::from_io(&e)),
                }
            },
            Wire::Bio { incoming, eof, .. } => {
                if incoming.is_empty() && !*eof {
                    return Err(errors::want(true));
                }
                let n = conn
                    .read_tls(incoming)
                    .map_err(|e| errors::ssl("SSL_ERROR_SSL", &e.to_string()))?;
                Ok(n > 0)
            }
        }
    }

    /// Sends what `conn` has to send.
    pub(super) fn flush(&mut self, conn: &mut Connection) -> Result<(), Failure> {
        while conn.wants_write() {
            match self {
                Wire::Socket {
                    socket,
                    deadline,
                    stop,
                } => {
                    let mut writer: &Socket = socket;
                    match conn.write_tls(&mut writer) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            if !deadline.blocking {
                                return Err(errors::want(false));
                            }
                            wait::wait(sock_fd(socket), libc::POLLOUT, *deadline, *stop)?;
                        }
                        Err(e) => return Err(errno::from_io(&e)),
                    }
                }
                Wire::Bio { outgoing, .. } => {
                    conn.write_tls(outgoing)
                        .map_err(|e| errors::ssl("SSL_ERROR_SSL", &e.to_string()))?;
                }
            }
        }
        Ok(())
    }
}

fn sock_fd(socket: &Socket) -> i32 {
    use std::os::fd::AsRawFd;
    socket.as_raw_fd()
}
