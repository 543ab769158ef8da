//! `wasipy runtime install X.Y` of a whole runtime (as `scripts/build-runtime` makes them):
//! its wheel, written by `scripts/runtime-wheel`, served by a package index on 127.0.0.1 and
//! named by a catalogue file (`WASIPY_CATALOGUE`), installed into an empty store; and,
//! with `WASIPY_TEST_BUILD=1`, the same runtime built from source when no index has it.

mod common;
mod index_server;

use common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A release-layout tarball of the runtime under test: `WASIPY_TEST_RUNTIME` if it is one
/// `scripts/build-runtime` made, else one holding the default runtime's `python.wasm`.
fn release_tarball(dir: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("WASIPY_TEST_RUNTIME") {
        let path = PathBuf::from(path);
        if path.to_string_lossy().ends_with("-wasi-wasipy.tar.xz") {
            return path;
        }
    }
    let (_, wasm) = default_runtime();
    let version = runtime_version_of(&default_runtime().0);
    let name = format!("cpython-{version}-wasi-test");
    std::fs::create_dir_all(dir.join(&name)).unwrap();
    std::fs::copy(&wasm, dir.join(&name).join("python.wasm")).unwrap();
    let tarball = dir.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    tarball
}

fn runtime_version_of(id: &str) -> String {
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(wasipy().args(["runtime", "list", "--json"]))).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    row["version"].as_str().unwrap().to_owned()
}

/// The wheel `scripts/runtime-wheel` makes of `tarball`, and its SHA-256 (the line it prints).
fn runtime_wheel(tarball: &Path, out: &Path) -> (PathBuf, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/runtime-wheel");
    let printed = run_ok(Command::new("python3").arg(script).arg(tarball).arg(out));
    let mut lines = printed.lines();
    let wheel = PathBuf::from(lines.next().unwrap());
    let sha = lines
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(sha, sha256(&wheel), "the printed hash is the wheel's");
    (wheel, sha)
}

/// The python.wasm inside a runtime wheel: its SHA-256 and size.
fn wasm_in(wheel: &Path) -> (String, u64) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut member = zip.by_name("wasipy_runtime_cpython/python.wasm").unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut member, &mut bytes).unwrap();
    (hex::encode(Sha256::digest(&bytes)), bytes.len() as u64)
}

#[test]
fn a_runtime_wheel_on_the_index_installs_by_version_into_an_empty_store() {
    ensure_runtime();
    let work = tempfile::tempdir().unwrap();
    let tarball = release_tarball(work.path());
    let (wheel, wheel_sha) = runtime_wheel(&tarball, work.path());
    let again = work.path().join("again");
    std::fs::create_dir(&again).unwrap();
    assert_eq!(
        runtime_wheel(&tarball, &again).1,
        wheel_sha,
        "the wheel is reproducible"
    );
    let name = wheel.file_name().unwrap().to_str().unwrap().to_owned();
    let version = name.split('-').nth(1).unwrap().to_owned();
    let minor = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let (wasm_sha, size) = wasm_in(&wheel);
    let id = format!("cpython-{version}-{}", &wasm_sha[..8]);
    let catalogue = work.path().join("catalogue.json");
    let entry = serde_json::json!({
        "id": id, "python_version": version, "description": "a test build",
        "sha256": wasm_sha, "size": size, "guest_home": "/usr/local/bin",
        "sources": [{"runtime_wheel": {"project": "wasipy-runtime-cpython", "version": version, "sha256": wheel_sha}}],
    });
    std::fs::write(
        &catalogue,
        serde_json::json!({ "runtimes": [entry] }).to_string(),
    )
    .unwrap();
    let mut files = Default::default();
    index_server::add_wheel(
        &mut files,
        "wasipy-runtime-cpython",
        &name,
        std::fs::read(&wheel).unwrap(),
    );
    let index = index_server::serve(files, None);
    let home = tempfile::tempdir().unwrap();
    let install = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.env("WASIPY_HOME", home.path())
            .env("WASIPY_CACHE_DIR", shared_cache())
            .env("PIP_INDEX_URL", &index.url)
            .args(args);
        // The embedded catalogue pins a build of this very runtime: no file needed.
        if !run_ok(wasipy().args(["runtime", "list"])).contains(&id) {
            cmd.env("WASIPY_CATALOGUE", &catalogue);
        }
        cmd
    };
    let started = Instant::now();
    let out = run_ok(&mut install(&["runtime", "install", &minor]));
    eprintln!(
        "installed {id} from the index in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(out.starts_with(&format!("{id} {version} ")), "{out}");
    let listed = run_ok(&mut install(&["runtime", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap();
    assert_eq!(row["installed"], true, "{row}");
    assert!(
        row["source"].as_str().unwrap().contains("package index"),
        "{row}"
    );
    // Installed already: nothing is fetched again.
    let hits = index.hits(&format!("/files/{name}"));
    run_ok(&mut install(&["runtime", "install", &minor]));
    assert_eq!(index.hits(&format!("/files/{name}")), hits);
    // A venv asking for the version gets it, and runs.
    let venv = work.path().join("venv");
    let mut make = install(&["venv", "--without-pip", "--python", &minor]);
    run_ok(make.arg(&venv));
    let out = run_ok(
        python(&venv)
            .env("WASIPY_HOME", home.path())
            .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]),
    );
    assert_eq!(out.trim(), version);
}

/// A wheel that is not the one pinned is refused, and the installed runtime stays.
#[test]
fn a_runtime_wheel_that_is_not_the_pinned_one_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let name = "wasipy_runtime_cpython-3.99.0-py3-none-any.whl";
    let wheel = index_server::wheel_with("wasipy_runtime_cpython/python.wasm", b"\0asm\x01\0\0\0");
    let mut files = Default::default();
    index_server::add_wheel(&mut files, "wasipy-runtime-cpython", name, wheel);
    let index = index_server::serve(files, None);
    let catalogue = work.path().join("catalogue.json");
    let entry = serde_json::json!({
        "id": "cpython-3.99.0-00000000", "python_version": "3.99.0", "description": "pinned",
        "sha256": "0".repeat(64), "size": 8, "guest_home": "/usr/local/bin",
        "sources": [{"runtime_wheel": {"project": "wasipy-runtime-cpython", "version": "3.99.0", "sha256": "1".repeat(64)}}],
    });
    std::fs::write(
        &catalogue,
        serde_json::json!({ "runtimes": [entry] }).to_string(),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("WASIPY_HOME", home.path())
        .env("PIP_INDEX_URL", &index.url)
        .env("WASIPY_CATALOGUE", &catalogue)
        .args(["runtime", "install", "3.99"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("does not match the pinned 1111"), "{err}");
    let left: Vec<_> = std::fs::read_dir(home.path().join("runtimes"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "nothing half-installed: {left:?}");
    // A catalogue file that is not valid is one line naming it.
    std::fs::write(&catalogue, "{").unwrap();
    let out = Command::new(BIN)
        .env("WASIPY_HOME", home.path())
        .env("WASIPY_CATALOGUE", &catalogue)
        .args(["runtime", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!(
        "the catalogue `{}` is not valid",
        catalogue.display()
    )));
}

/// With no wheel anywhere, `runtime install 3.13` builds the runtime from source (about 15
/// minutes on 2 cores) and ends with the id the catalogue pins: the build is reproducible.
/// Run with `WASIPY_TEST_BUILD=1`.
#[test]
fn with_no_wheel_anywhere_the_runtime_is_built_from_source() {
    if std::env::var_os("WASIPY_TEST_BUILD").is_none() {
        eprintln!("skipped: set WASIPY_TEST_BUILD=1 to build a runtime from source (15 minutes)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = run_ok(
        Command::new(BIN)
            .env("WASIPY_HOME", home.path())
            .env("WASIPY_CACHE_DIR", cache.path())
            .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")
            .args(["runtime", "install", "3.13"]),
    );
    let catalogue: serde_json::Value =
        serde_json::from_str(include_str!("../src/runtime/catalogue.json")).unwrap();
    let built = catalogue["runtimes"].as_array().unwrap().iter().find(|e| {
        e["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.get("build").is_some())
    });
    let pinned = built.unwrap()["id"].as_str().unwrap();
    assert!(out.starts_with(&format!("{pinned} ")), "{out}");
}
