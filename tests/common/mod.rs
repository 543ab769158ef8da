//! Shared helpers: the built binary, a shared runtime store and compile cache (installed and
//! warmed once per test binary), and fresh venvs in temp dirs.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_wasipy");

/// Store and cache shared by every test (under cargo's per-target temp dir), so the runtime
/// is downloaded and compiled once per build.
pub fn shared_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasipy-home")
}

pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasipy-cache")
}

/// `program` run with the shared runtime store and compile cache.
pub fn store_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("WASIPY_HOME", shared_home())
        .env("WASIPY_CACHE_DIR", shared_cache());
    cmd
}

/// `wasipy` (management CLI) with the shared store.
pub fn wasipy() -> Command {
    store_command(BIN)
}

/// Installs the default runtime and compiles it once, before any test uses it.
pub fn ensure_runtime() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let out = wasipy().args(["runtime", "install"]).output().unwrap();
        assert!(
            out.status.success(),
            "runtime install failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("warm");
        let out = wasipy().arg("venv").arg(&venv).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = python(&venv).args(["-c", "pass"]).output().unwrap();
        assert!(
            out.status.success(),
            "warm-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A fresh venv in its own temp dir (kept alive by the returned guard).
pub struct TestVenv {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl TestVenv {
    /// A venv without pip (most tests do not need it; creating one stays offline).
    pub fn new() -> Self {
        Self::with_args(&["--without-pip"])
    }

    /// A venv made the default way, with the newest pip from the index.
    pub fn new_with_pip() -> Self {
        Self::with_args(&[])
    }

    /// A venv made with `wasipy venv DIR ARGS...`.
    pub fn with_args(args: &[&str]) -> Self {
        ensure_runtime();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".venv");
        let out = wasipy().arg("venv").arg(&dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "wasipy venv: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { tmp, dir }
    }

    pub fn python(&self) -> Command {
        python(&self.dir)
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// The venv's `bin/python`, run with the shared store and cache.
pub fn python(venv: &Path) -> Command {
    let mut cmd = store_command(venv.join("bin/python"));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with `input` on its stdin and its output captured.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd`, asserting success, and returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}
