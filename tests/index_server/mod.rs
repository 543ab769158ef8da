//! A small PEP 503 package index on 127.0.0.1 for tests: generated pure-Python wheels,
//! responses that HTTP caches may keep, and a count of the requests for each path.
#![allow(dead_code)] // each test binary uses part of it

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Server {
    /// The index URL (`.../simple/`).
    pub url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

type Files = HashMap<String, (&'static str, Vec<u8>)>;

/// Serves one wheel per `(project, version)`.
pub fn start(projects: &[(&str, &str)]) -> Server {
    let mut files = Files::new();
    for (project, version) in projects {
        let module = project.replace('-', "_");
        add_wheel(
            &mut files,
            project,
            &format!("{module}-{version}-py3-none-any.whl"),
            wheel(&module, version),
        );
    }
    serve(files, None)
}

/// Lists `wheel` (named `name`) on `project`'s page.
pub fn add_wheel(files: &mut Files, project: &str, name: &str, wheel: Vec<u8>) {
    let sha = hex::encode(Sha256::digest(&wheel));
    let page = format!(
        "<!DOCTYPE html><html><body><a href=\"/files/{name}#sha256={sha}\">{name}</a></body></html>"
    );
    files.insert(
        format!("/simple/{project}/"),
        ("text/html", page.into_bytes()),
    );
    files.insert(format!("/files/{name}"), ("application/zip", wheel));
}

/// A wheel whose only member is `member` with `bytes` (stored, not compressed).
pub fn wheel_with(member: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    zip.start_file(member, stored).unwrap();
    zip.write_all(bytes).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

/// Serves `files`; with `cut`, files under `/files/` announce their full length but the
/// connection closes after `cut` bytes of the body (a download cut halfway).
pub fn serve(files: Files, cut: Option<usize>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/simple/", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let Some(mut request_line) = read_head(&mut reader) else {
                continue;
            };
            // As a proxy it is asked to tunnel first: agree, then serve what comes through.
            if request_line.starts_with("CONNECT ") {
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                match read_head(&mut reader) {
                    Some(line) => request_line = line,
                    None => continue,
                }
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("/");
            let path = match target.strip_prefix("http://") {
                Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
                None => target.to_owned(),
            };
            *counter.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
            let mut stream = reader.into_inner();
            let _ = match files.get(&path) {
                Some((kind, body)) => write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Cache-Control: max-age=3600, public\r\nDate: {}\r\nConnection: close\r\n\r\n",
                    body.len(),
                    http_date()
                )
                .and_then(|_| match cut.filter(|_| path.starts_with("/files/")) {
                    Some(n) => stream.write_all(&body[..n.min(body.len())]),
                    None => stream.write_all(body),
                }),
                None => write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            };
        }
    });
    Server { url, hits }
}

/// Reads a request head; returns its request line.
fn read_head(reader: &mut BufReader<std::net::TcpStream>) -> Option<String> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    Some(request_line)
}

/// Now as an HTTP date (`Sat, 21 Nov 2026 17:06:31 GMT`): caches need it with max-age.
fn http_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A minimal valid wheel: the module (with `VERSION`) and its dist-info.
pub fn wheel(module: &str, version: &str) -> Vec<u8> {
    let dist = format!("{module}-{version}.dist-info");
    let members = [
        (format!("{module}/__init__.py"), format!("VERSION = {version:?}\n")),
        (
            format!("{dist}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n"),
        ),
        (
            format!("{dist}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: wasipy-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_owned(),
        ),
        (format!("{dist}/RECORD"), String::new()),
    ];
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, text) in members {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}
