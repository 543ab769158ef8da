//! Bad input: each ends with a clear message and a non-zero exit (or, where CPython
//! succeeds, the same result as CPython), never a panic, and leaves nothing half-written.

mod common;

use common::*;

#[test]
fn a_directory_as_the_script_is_cpythons_error() {
    let venv = TestVenv::new();
    let out = venv.python().arg(venv.tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("can't find '__main__' module"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn huge_argv_and_closed_stdin_work() {
    let venv = TestVenv::new();
    let args: Vec<String> = (0..20_000).map(|i| format!("argument-{i}")).collect();
    let out = run_ok(
        venv.python()
            .args([
                "-c",
                "import sys; print(len(sys.argv), sys.argv[-1], repr(sys.stdin.read()))",
            ])
            .args(&args),
    );
    assert_eq!(out, "20001 argument-19999 ''\n");
}

#[test]
fn a_moved_venv_keeps_working() {
    let venv = TestVenv::new();
    let moved = venv.tmp.path().join("renamed-venv");
    std::fs::rename(&venv.dir, &moved).unwrap();
    let out = run_ok(python(&moved).args(["-c", "import sys; print(sys.prefix)"]));
    assert_eq!(out.trim(), moved.display().to_string());
}

#[test]
fn a_file_that_is_not_wasm_is_refused_by_runtime_add() {
    ensure_runtime();
    let home = tempfile::tempdir().unwrap();
    let bogus = home.path().join("bogus.wasm");
    std::fs::write(&bogus, b"#!/bin/sh\necho not wasm\n").unwrap();
    let out = store_command(BIN)
        .env("WASIPY_HOME", home.path())
        .args(["runtime", "add"])
        .arg(&bogus)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not a WebAssembly module"), "{err}");
    assert!(err.contains(&format!("`{}`", bogus.display())), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| !l.starts_with("wasipy: running"))
            .count(),
        1,
        "{err}"
    );
    // Nothing half-added is left in the store.
    let left: Vec<_> = std::fs::read_dir(home.path().join("runtimes"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
