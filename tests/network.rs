//! The guest's network stack as users meet it: sockets, `ssl` and asyncio against real
//! servers on 127.0.0.1 (started here, each serving a bounded number of connections), HTTP
//! libraries from the index, the index itself over https, and the network rules.

mod common;
mod index_server;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A TCP server on 127.0.0.1 that answers `count` connections, each with `prefix` and
/// the first line it read.
fn line_server(count: usize, prefix: &'static str) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let mut reader = BufReader::new(stream.unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                // One write: the guest's recv(64) sees the whole answer.
                let _ = reader
                    .get_mut()
                    .write_all(format!("{prefix}{line}").as_bytes());
            }
        }
    });
    (port, handle)
}

/// Runs `code` in `venv` and returns its stdout, asserting success.
fn guest(venv: &TestVenv, code: &str) -> String {
    run_ok(venv.python().args(["-c", code]))
}

/// Starts `code` in `venv` unbuffered, with its stdout piped; returns the child and the
/// first line it printed.
fn spawn_guest(venv: &TestVenv, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = venv
        .python()
        .arg("-u")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

#[test]
fn tcp_and_udp_both_ways() {
    let venv = TestVenv::new();
    let (port, server) = line_server(1, "echo:");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let udp_echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = udp.recv_from(&mut buf).unwrap();
        udp.send_to(&buf[..n], from).unwrap();
    });
    let code = format!(
        "import socket\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=10)\n\
         s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
         s.sendall(b'hello\\n')\n\
         f = s.makefile('rb')\n\
         print(f.readline().decode().strip(), s.getpeername()[1] == {port})\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         u.settimeout(10)\n\
         u.sendto(b'dgram', ('127.0.0.1', {udp_port}))\n\
         data, addr = u.recvfrom(64)\n\
         print(data.decode(), addr == ('127.0.0.1', {udp_port}))\n"
    );
    assert_eq!(guest(&venv, &code), "echo:hello True\ndgram True\n");
    server.join().unwrap();
    udp_echo.join().unwrap();

    // The other way: the guest listens, a host client connects.
    let serve = "import socket\n\
                 srv = socket.socket()\n\
                 srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 srv.bind(('127.0.0.1', 0)); srv.listen()\n\
                 print(srv.getsockname()[1])\n\
                 conn, addr = srv.accept()\n\
                 conn.sendall(b'guest:' + conn.recv(64))\n\
                 conn.close()\n";
    let (mut child, mut out) = spawn_guest(&venv, &["-c", serve]);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("{line:?}"));
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "guest:ping");
    assert!(child.wait().unwrap().success());
}

#[test]
fn select_nonblocking_connect_timeouts_refusals_and_names() {
    let venv = TestVenv::new();
    let (port, server) = line_server(1, "");
    // Accepts and never answers: a read times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // A port nobody listens on: bind, note it, close.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let code = format!(
        r#"import errno, select, selectors, socket
s = socket.socket(); s.setblocking(False)
try:
    s.connect(('127.0.0.1', {port}))
except BlockingIOError as e:
    print('inprogress', e.errno == errno.EINPROGRESS)
_, w, _ = select.select([], [s], [], 10)
print('writable', w == [s], s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.send(b'sel\n')
sel = selectors.DefaultSelector(); sel.register(s, selectors.EVENT_READ)
print('readable', len(sel.select(10)), s.recv(16))
t = socket.create_connection(('127.0.0.1', {silent_port}))
t.settimeout(0.3)
try:
    t.recv(1)
except TimeoutError as e:
    print('timeout', type(e).__name__)
try:
    socket.create_connection(('127.0.0.1', {closed_port}), timeout=10)
except ConnectionRefusedError as e:
    print('refused', e.errno == errno.ECONNREFUSED)
print('ex', socket.socket().connect_ex(('127.0.0.1', {closed_port})) == errno.ECONNREFUSED)
print('localhost', '127.0.0.1' in {{a[4][0] for a in socket.getaddrinfo('localhost', 80)}})
print('byname', socket.gethostbyname('localhost'))
print('hostname', socket.gethostname() == {hostname:?})
try:
    socket.getaddrinfo('no-such-host.invalid', 80)
except socket.gaierror as e:
    print('gaierror', e.errno in (socket.EAI_NONAME, socket.EAI_AGAIN))
"#,
        hostname = host_name(),
    );
    assert_eq!(
        guest(&venv, &code),
        "inprogress True\nwritable True 0\nreadable 1 b'sel\\n'\ntimeout TimeoutError\n\
         refused True\nex True\nlocalhost True\nbyname 127.0.0.1\nhostname True\ngaierror True\n"
    );
    server.join().unwrap();
    drop(silent);
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable and its length is passed.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) },
        0
    );
    let end = buf.iter().position(|b| *b == 0).unwrap();
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The index's host, from the same configuration pip uses.
fn index_url() -> String {
    wasipy::index::index_url(&wasipy::runtime::catalogue::get().default_index_url)
}

#[test]
fn http_libraries_reach_a_local_server_and_the_index() {
    let venv = TestVenv::new_with_pip();
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pip-cache");
    run_ok(
        venv.python()
            .args(["-m", "pip", "install", "-q"])
            .args(["urllib3", "requests", "httpx", "aiohttp"])
            .env("PIP_CACHE_DIR", &cache)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    let mut files = std::collections::HashMap::new();
    files.insert("/hello.txt".to_owned(), ("text/plain", b"hi".to_vec()));
    let server = index_server::serve(files, None);
    let url = server.url.replace("/simple/", "/hello.txt");
    let index = index_url();
    let code = format!(
        r#"import asyncio, http.client, urllib.parse, urllib.request
import aiohttp, httpx, requests, urllib3
url = {url:?}
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10); c.request('GET', u.path)
print('http.client', c.getresponse().read())
print('urllib', urllib.request.urlopen(url).read())
print('urllib3', urllib3.PoolManager().request('GET', url).data)
print('requests', requests.get(url).content)
print('httpx', httpx.get(url).content)
async def main():
    async with httpx.AsyncClient() as client:
        print('httpx async', (await client.get(url)).content)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as r:
            print('aiohttp', await r.read())
asyncio.run(main())
r = httpx.get({index:?} + 'pip/', follow_redirects=True)
print('index', r.status_code, r.url.scheme, b'pip-' in r.content)
"#
    );
    let out = guest(&venv, &code);
    let expected = "http.client b'hi'\nurllib b'hi'\nurllib3 b'hi'\nrequests b'hi'\n\
                    httpx b'hi'\nhttpx async b'hi'\naiohttp b'hi'\n";
    assert!(out.starts_with(expected), "{out}");
    let scheme = if index.starts_with("https:") {
        "https"
    } else {
        "http"
    };
    assert!(
        out.ends_with(&format!("index 200 {scheme} True\n")),
        "{out}"
    );
    assert_eq!(server.hits("/hello.txt"), 7);
}

#[test]
fn asyncio_runs_timers_streams_and_servers() {
    let venv = TestVenv::new();
    let (port, server) = line_server(1, "host:");
    let code = format!(
        r#"import asyncio, sys
async def tick(n):
    await asyncio.sleep(0.01 * n)
    return n
async def handle(reader, writer):
    writer.write(b'guest:' + await reader.readline()); await writer.drain(); writer.close()
async def main():
    print(await asyncio.gather(tick(2), tick(1), tick(3)))
    try:
        await asyncio.wait_for(asyncio.sleep(5), 0.05)
    except TimeoutError:
        print('wait_for timed out')
    r, w = await asyncio.open_connection('127.0.0.1', {port})
    w.write(b'a\n'); print((await r.readline()).decode().strip()); w.close()
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    r, w = await asyncio.open_connection(*srv.sockets[0].getsockname()[:2])
    w.write(b'b\n'); print((await r.readline()).decode().strip()); w.close()
    srv.close(); await srv.wait_closed()
    try:
        await asyncio.get_running_loop().run_in_executor(None, print)
    except RuntimeError as e:
        print('executor', 'thread' in str(e))
    child = 'import sys; print(sys.stdin.read().upper()); sys.exit(3)'
    p = await asyncio.create_subprocess_exec(sys.executable, '-c', child,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(p.communicate(b'child'), 60)
    print('subprocess', out.decode().strip(), p.returncode)
asyncio.run(main())
"#
    );
    assert_eq!(
        guest(&venv, &code),
        "[2, 1, 3]\nwait_for timed out\nhost:a\nguest:b\nexecutor True\nsubprocess CHILD 3\n"
    );
    server.join().unwrap();
}

/// A CA and a certificate for `localhost` it signed (PEM), and the server's rustls config.
fn test_pki() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), Arc::new(config))
}

/// A TLS server answering `count` connections (a failed handshake counts) with `tls:` and
/// the first line read.
fn tls_server(config: Arc<rustls::ServerConfig>, count: usize) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut reader = BufReader::new(rustls::StreamOwned::new(conn, stream));
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let _ = reader.get_mut().write_all(format!("tls:{line}").as_bytes());
                reader.get_mut().conn.send_close_notify();
                let _ = reader.get_mut().flush();
            }
        }
    });
    (port, handle)
}

#[test]
fn tls_with_a_test_ca_verifies_and_refuses_without_it() {
    let venv = TestVenv::new();
    let (ca, config) = test_pki();
    let ca_file = venv.tmp.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let (port, server) = tls_server(config, 3);
    let code = format!(
        r#"import asyncio, socket, ssl
good = ssl.create_default_context(cafile={ca:?})
s = good.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname='localhost')
s.sendall(b'sync\n')
# Read a line: a TLS recv may stop at a record's end, as natively.
print(s.makefile('rb').readline().decode().strip(), s.version() in ('TLSv1.2', 'TLSv1.3'),
      dict(s.getpeercert()['subjectAltName']))
s.close()
async def fetch(ctx):
    r, w = await asyncio.open_connection('127.0.0.1', {port}, ssl=ctx, server_hostname='localhost')
    w.write(b'async\n'); line = await r.readline(); w.close()
    return line.decode().strip()
print(asyncio.run(fetch(good)))
try:
    asyncio.run(fetch(ssl.create_default_context()))
except ssl.SSLCertVerificationError as e:
    print('refused', e.verify_message)
"#,
        ca = ca_file.to_str().unwrap()
    );
    assert_eq!(
        guest(&venv, &code),
        "tls:sync True {'DNS': 'localhost'}\ntls:async\n\
         refused unable to get local issuer certificate\n"
    );
    server.join().unwrap();
}

#[test]
fn http_server_in_the_guest_serves_a_host_client() {
    let venv = TestVenv::new();
    let root = venv.tmp.path().join("site");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("page.txt"), "served by the guest").unwrap();
    let (mut child, mut out) = spawn_guest(
        &venv,
        &[
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            root.to_str().unwrap(),
        ],
    );
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port: u16 = line
        .split_whitespace()
        .nth(5)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .write_all(b"GET /page.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nserved by the guest"), "{reply}");
}

#[test]
fn the_network_rules_apply_at_the_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("sandboxed");
    run_ok(&mut venv_command(
        &venv,
        &["--sandbox", "--without-pip", "--allow-host", "localhost"],
    ));
    let (port, server) = line_server(1, "allowed:");
    let code = format!(
        r#"import socket
s = socket.create_connection(('localhost', {port}), timeout=10)
s.sendall(b'x\n'); print(s.recv(64).decode().strip())
for address in [('127.0.0.2', {port}), ('example.invalid', 80)]:
    try:
        socket.create_connection(address, timeout=10)
    except PermissionError as e:
        print('refused', 'wasipy-network' in str(e))
b = socket.socket()
try:
    b.bind(('0.0.0.0', 0))
except PermissionError as e:
    print('bind refused', 'wasipy-sandbox' in str(e))
b.bind(('127.0.0.1', 0)); print('loopback bind ok')
"#
    );
    let out = run_ok(python(&venv).args(["-c", &code]));
    assert_eq!(
        out,
        "allowed:x\nrefused True\nrefused True\nbind refused True\nloopback bind ok\n"
    );
    server.join().unwrap();
}
