//! More than one runtime: `runtime add` of a single .wasm and of CPython's release layout
//! (built here from pieces of the default runtime), list, use in a venv, remove, doctor.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `wasipy` with a private runtime store (the compile cache stays shared).
fn wasipy_in(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("WASIPY_HOME", home)
        .env("WASIPY_CACHE_DIR", shared_cache());
    cmd
}

/// The default runtime's file: these tests add copies of it (and build a release layout
/// from it), whatever runtime the rest of the suite runs against.
fn default_wasm() -> PathBuf {
    default_runtime().1
}

fn list_json(home: &Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(wasipy_in(home).args(["runtime", "list", "--json"]))).unwrap()
}

#[test]
fn an_added_copy_is_listed_used_protected_and_checked() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("my-python.wasm");
    std::fs::copy(default_wasm(), &copy).unwrap();
    let added = run_ok(
        wasipy_in(home.path())
            .args(["runtime", "add"])
            .arg(&copy)
            .args(["--id", "mine"]),
    );
    assert!(
        added.starts_with("mine 3.12.0 wasi-0.0.0-wasm32 "),
        "{added}"
    );
    run_ok(wasipy_in(home.path()).args(["runtime", "install"]));

    let listed = list_json(home.path());
    let rows: Vec<(&str, &str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["version"].as_str().unwrap(),
                r["installed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("mine", "3.12.0", true)), "{rows:?}");
    assert!(
        rows.contains(&("cpython-3.12.0-wlr", "3.12.0", true)),
        "{rows:?}"
    );

    let venv = work.path().join("v");
    run_ok(wasipy_in(home.path()).arg("venv").arg(&venv).args([
        "--runtime",
        "mine",
        "--without-pip",
    ]));
    let cfg = || std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    assert!(cfg().contains("wasipy-runtime = mine"), "{}", cfg());
    // Neither `--runtime` nor `--python`: the newest installed, and of one version the one
    // installed last (the catalogue's, after `mine`), said; a venv refreshed keeps its own.
    let auto = wasipy_in(home.path())
        .arg("venv")
        .arg(work.path().join("auto"))
        .arg("--without-pip")
        .output()
        .unwrap();
    let said = stderr(&auto);
    assert!(
        said.contains("using runtime cpython-3.12.0-wlr, the newest installed"),
        "{said}"
    );
    run_ok(
        wasipy_in(home.path())
            .arg("venv")
            .arg(&venv)
            .arg("--without-pip"),
    );
    assert!(cfg().contains("wasipy-runtime = mine"), "{}", cfg());
    let mut python = Command::new(venv.join("bin/python"));
    python
        .env("WASIPY_HOME", home.path())
        .env("WASIPY_CACHE_DIR", shared_cache());
    assert_eq!(
        run_ok(python.args(["-c", "import sys; print(sys.version.split()[0])"])),
        "3.12.0\n"
    );
    assert!(venv.join("bin/python3.12").exists());

    let refused = wasipy_in(home.path())
        .args(["runtime", "remove", "mine"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(&venv.display().to_string()),
        "{}",
        stderr(&refused)
    );

    let healthy = wasipy_in(home.path())
        .arg("doctor")
        .arg(&venv)
        .output()
        .unwrap();
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
    std::fs::remove_file(home.path().join("runtimes/mine/python.wasm")).unwrap();
    let broken = wasipy_in(home.path())
        .arg("doctor")
        .arg(&venv)
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stdout(&broken).contains("PROBLEM runtime mine"),
        "{}",
        stdout(&broken)
    );

    run_ok(wasipy_in(home.path()).args(["runtime", "remove", "--force", "mine"]));
    assert!(!home.path().join("runtimes/mine").exists());
    let dir = run_ok(wasipy_in(home.path()).args(["runtime", "dir"]));
    assert_eq!(Path::new(dir.trim()), home.path().join("runtimes"));
}

/// CPython's release layout: `lib/python3.12/` with the stdlib and the wasm under
/// `lib/python3.12/lib-wasm/`; the stdlib is copied out of the default runtime by itself.
fn release_layout(root: &Path) {
    let stdlib = root.join("lib/python3.12");
    let venv = TestVenv::with_args(&["--without-pip", "--runtime", &default_runtime().0]);
    let code = format!(
        "import shutil, zipfile\n\
         shutil.copytree('/usr/local/lib/python3.12', {dest:?}, dirs_exist_ok=True)\n\
         zipfile.ZipFile('/usr/local/lib/python312.zip').extractall({dest:?})",
        dest = stdlib.to_str().unwrap()
    );
    run_ok(venv.python().args(["-c", &code]));
    assert!(stdlib.join("os.py").is_file() || stdlib.join("os.pyc").is_file());
    std::fs::create_dir_all(stdlib.join("lib-wasm")).unwrap();
    std::fs::copy(default_wasm(), stdlib.join("lib-wasm/python3.12.wasm")).unwrap();
}

#[test]
fn the_release_layout_is_added_from_a_tarball() {
    let work = tempfile::tempdir().unwrap();
    let top = work.path().join("python-3.12.0-wasm32-wasip1");
    release_layout(&top);
    // os.py is the landmark CPython's getpath looks for.
    if !top.join("lib/python3.12/os.py").exists() {
        std::fs::write(top.join("lib/python3.12/os.py"), "from os import *\n").unwrap();
    }
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all("python-3.12.0-wasm32-wasip1", &top)
        .unwrap();
    let tarball = tar.into_inner().unwrap();
    let xz = work.path().join("python-3.12.0-wasm32-wasip1.tar.xz");
    let mut compressed = Vec::new();
    lzma_rs::xz_compress(&mut std::io::Cursor::new(tarball), &mut compressed).unwrap();
    std::fs::write(&xz, compressed).unwrap();

    let home = tempfile::tempdir().unwrap();
    let added = run_ok(
        wasipy_in(home.path())
            .args(["runtime", "add"])
            .arg(&xz)
            .args(["--id", "release"]),
    );
    assert!(added.starts_with("release 3.12.0 "), "{added}");
    let runtime = home.path().join("runtimes/release");
    assert!(runtime.join("python.wasm").is_file());
    assert!(runtime.join("lib/python3.12/os.py").is_file());
    let listed = list_json(home.path());
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "release")
        .unwrap()
        .clone();
    assert_eq!(row["stdlib"], "on disk");
    assert_eq!(row["version"], "3.12.0");

    let venv = work.path().join("v");
    run_ok(wasipy_in(home.path()).arg("venv").arg(&venv).args([
        "--python",
        "3.12",
        "--without-pip",
    ]));
    let mut python = Command::new(venv.join("bin/python"));
    python
        .env("WASIPY_HOME", home.path())
        .env("WASIPY_CACHE_DIR", shared_cache());
    let out = run_ok(python.args(["-c", "import json, sys; print(json.dumps([1]), sys.prefix)"]));
    assert_eq!(out, format!("[1] {}\n", venv.display()));
}
