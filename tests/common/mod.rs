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

/// The runtime the tests run against: the catalogue's default, or the runtime (a release
/// tarball, directory or `.wasm`) named by `WASIPY_TEST_RUNTIME`, added to the shared store
/// once under an id made from its hash.
pub struct Runtime {
    pub id: String,
    /// The SHA-256 of its `python.wasm` (compiled files are named by it).
    pub sha256: String,
    /// `3.13.5`
    pub version: String,
    /// `3.13`
    pub minor: String,
}

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(install_runtime)
}

fn install_runtime() -> Runtime {
    let id = match std::env::var_os("WASIPY_TEST_RUNTIME") {
        Some(path) => add_runtime(Path::new(&path)),
        None => default_runtime().0,
    };
    let row = listed_runtime(|r| r["id"] == id.as_str());
    let version = row["version"].as_str().unwrap().to_owned();
    let minor = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let sha256 = row["sha256"].as_str().unwrap().to_owned();
    Runtime {
        id,
        sha256,
        version,
        minor,
    }
}

fn default_runtime_id() -> String {
    listed_runtime(|r| r["default"] == true)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The first row of `wasipy runtime list --json` that `pick` accepts.
fn listed_runtime(pick: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(wasipy().args(["runtime", "list", "--json"]))).unwrap();
    let rows = list.as_array().unwrap();
    rows.iter()
        .find(|r| pick(r))
        .cloned()
        .unwrap_or_else(|| panic!("no such runtime in {list}"))
}

fn add_runtime(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("WASIPY_TEST_RUNTIME `{}`: {e}", path.display()));
    let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
    let id = format!("test-{}", &sha[..12]);
    if !shared_home()
        .join("runtimes")
        .join(&id)
        .join("manifest.json")
        .exists()
    {
        run_ok(
            wasipy()
                .args(["runtime", "add"])
                .arg(path)
                .args(["--id", &id]),
        );
    }
    id
}

/// The catalogue's default runtime, installed in the shared store whatever runtime is under
/// test (tests of downloading and of `runtime add` use its file): its id and `python.wasm`.
pub fn default_runtime() -> (String, PathBuf) {
    static DEFAULT: OnceLock<(String, PathBuf)> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            run_ok(wasipy().args(["runtime", "install"]));
            let id = default_runtime_id();
            let wasm = shared_home().join("runtimes").join(&id).join("python.wasm");
            (id, wasm)
        })
        .clone()
}

/// Installs the runtime under test and compiles its optimised module once, before any test
/// uses it (tests of the quick first-run tier use caches of their own).
pub fn ensure_runtime() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let runtime = runtime();
        run_ok(wasipy().args(["runtime", "compile", &runtime.id]));
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("warm");
        let out = wasipy()
            .arg("venv")
            .arg(&venv)
            .args(["--without-pip", "--runtime", &runtime.id])
            .output()
            .unwrap();
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

/// The `home` a venv of the runtime under test names: its own `bin` in the store when its
/// stdlib is on disk (the guest sees it at its host path), else `/usr/local/bin`.
pub fn runtime_home() -> String {
    let dir = shared_home().join("runtimes").join(&runtime().id);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    match manifest["stdlib"].is_null() {
        true => "/usr/local/bin".to_owned(),
        false => dir.join("bin").to_string_lossy().into_owned(),
    }
}

/// `wasipy venv DIR ARGS...` on the runtime under test (unless ARGS name one).
pub fn venv_command(dir: &Path, args: &[&str]) -> Command {
    ensure_runtime();
    let mut cmd = wasipy();
    cmd.arg("venv").arg(dir).args(args);
    if !args.contains(&"--runtime") {
        cmd.args(["--runtime", &runtime().id]);
    }
    cmd
}

/// `lib/pythonX.Y/site-packages` of `venv`.
pub fn site_packages(venv: &Path) -> PathBuf {
    venv.join(format!("lib/python{}/site-packages", runtime().minor))
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".venv");
        let out = venv_command(&dir, args).output().unwrap();
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

    pub fn site_packages(&self) -> PathBuf {
        site_packages(&self.dir)
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

/// The compiled interpreter modules in `cache`, as (quick, optimised) file lists.
pub fn compiled_modules(cache: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    compiled_files(cache)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with("-snapshot.cwasm"))
        .partition(|p| p.to_string_lossy().ends_with("-quick.cwasm"))
}

/// The compiled start-up snapshots in `cache`.
pub fn compiled_snapshots(cache: &Path) -> Vec<PathBuf> {
    compiled_files(cache)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("-snapshot.cwasm"))
        .collect()
}

/// Every compiled file in `cache` (interpreter tiers and snapshots).
pub fn compiled_files(cache: &Path) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = std::fs::read_dir(cache.join("compiled"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

/// Waits (up to 10 minutes, for slow CI machines) for the background compile a first run
/// started to leave the optimised module in `cache`.
pub fn wait_for_optimised_module(cache: &Path) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        if let [file] = &compiled_modules(cache).1[..] {
            return file.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no optimised module in {}",
            cache.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
