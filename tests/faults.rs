//! Faults: Ctrl-C (SIGINT) ends a busy, sleeping, reading or waiting python promptly with
//! exit 130; a killed child interpreter stops (or, busy, is reported killed) promptly;
//! running out of memory is a Python exception.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Starts `python -c code` (stdin an open pipe nobody writes to), sends SIGINT after 1.5 s,
/// and returns its exit code, how long it took to end, and its stderr.
fn interrupt_after_start(code: &str) -> (Option<i32>, Duration, String) {
    let venv = TestVenv::new();
    let mut child = venv
        .python()
        .args(["-c", code])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    std::thread::sleep(Duration::from_millis(1500));
    let start = Instant::now();
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    (out.status.code(), start.elapsed(), stderr(&out))
}

#[test]
fn sigint_stops_a_busy_loop_with_130() {
    let (code, took, err) = interrupt_after_start("while True: pass");
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(err.contains("KeyboardInterrupt"), "{err}");
}

#[test]
fn sigint_stops_a_sleep_with_130() {
    let (code, took, err) = interrupt_after_start("import time; time.sleep(60)");
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn sigint_stops_a_blocked_read_and_a_wait_for_a_busy_child_with_130() {
    for code in [
        "import sys; sys.stdin.read()",
        "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])",
    ] {
        let (status, took, err) = interrupt_after_start(code);
        assert_eq!(status, Some(130), "{code}: {err}");
        assert!(took < Duration::from_secs(2), "{code}: {took:?}");
        assert!(err.contains("KeyboardInterrupt"), "{code}: {err}");
    }
}

/// A killed or terminated child stops promptly: a sleeping one at once, a busy one (which
/// cannot be stopped inside wasm code) is reported killed after a short grace while its
/// thread computes on until this process ends; `wait()` never hangs.
#[test]
fn killed_children_are_reported_promptly_busy_or_sleeping() {
    let venv = TestVenv::new();
    for (child, how, expected) in [
        ("while True: pass", "kill", "-9 True\n"),
        ("import time; time.sleep(60)", "terminate", "-15 True\n"),
    ] {
        let code = format!(
            "import subprocess, sys, time\n\
             p = subprocess.Popen([sys.executable, '-c', {child:?}])\n\
             time.sleep(0.5)\n\
             t = time.monotonic(); p.{how}()\n\
             print(p.wait(), time.monotonic() - t < 2)"
        );
        assert_eq!(
            run_ok(venv.python().args(["-c", &code])),
            expected,
            "{child}"
        );
    }
}

/// Asking for more memory than a 32-bit guest can have is a Python exception, as in a 32-bit
/// CPython: `OverflowError` for a size beyond the address space, `MemoryError` when the
/// memory runs out; exit 1, never a trap or a host crash.
#[test]
fn out_of_memory_is_a_python_exception() {
    let venv = TestVenv::new();
    for (code, error) in [
        ("bytearray(10**10)", "OverflowError"),
        ("x = [bytearray(2**28) for _ in range(64)]", "MemoryError"),
    ] {
        let out = venv.python().args(["-c", code]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{code}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(error), "{code}: {err}");
        assert!(!err.contains("trapped"), "{code}: {err}");
    }
}

/// Runs `cmd` with writes limited to files of `kib` KiB (`RLIMIT_FSIZE`): a write past it
/// fails with `EFBIG`, as a write to a full disk fails with `ENOSPC`.
fn with_file_size_limit(cmd: &mut std::process::Command, kib: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: kib << 10,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

/// A wheel `bigpkg` 1.0 whose `blob.py` is 2 MiB, built in `dir`.
fn big_wheel(dir: &std::path::Path) -> std::path::PathBuf {
    use sha2::Digest;
    let blob = format!("DATA = '{}'\n", "x".repeat(2 << 20));
    let files: [(&str, &[u8]); 4] = [
        ("bigpkg/__init__.py", b"VALUE = 42\n"),
        ("bigpkg/blob.py", blob.as_bytes()),
        (
            "bigpkg-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n",
        ),
        (
            "bigpkg-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
    ];
    let path = dir.join("bigpkg-1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let mut record = String::new();
    for (name, data) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, data).unwrap();
        let hash = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sha2::Sha256::digest(data),
        );
        record += &format!("{name},sha256={hash},{}\n", data.len());
    }
    record += "bigpkg-1.0.dist-info/RECORD,,\n";
    zip.start_file(
        "bigpkg-1.0.dist-info/RECORD",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, record.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

/// The disk fills up halfway through a pip install: pip's error and exit 1, and the venv
/// still works (`pip list`, then the same install succeeds once there is room).
#[test]
fn a_full_disk_mid_install_leaves_the_venv_usable() {
    let venv = TestVenv::new_with_pip();
    let wheel = big_wheel(venv.tmp.path());
    let install = |cmd: &mut std::process::Command| {
        cmd.args(["-m", "pip", "install", "--no-index", "--no-cache-dir"])
            .arg(&wheel);
    };
    let mut cmd = venv.python();
    install(&mut cmd);
    let out = with_file_size_limit(&mut cmd, 1024);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ERROR: Could not install packages due to an OSError")
            && err.contains("File too large"),
        "{err}"
    );
    let list = run_ok(venv.python().args(["-m", "pip", "list"]));
    assert!(list.contains("pip") && !list.contains("bigpkg"), "{list}");
    let mut again = venv.python();
    install(&mut again);
    run_ok(&mut again);
    let value = run_ok(venv.python().args([
        "-c",
        "import bigpkg.blob, bigpkg; print(bigpkg.VALUE, len(bigpkg.blob.DATA))",
    ]));
    assert_eq!(value, format!("42 {}\n", 2 << 20));
}

/// `wasipy venv` on a full disk: a one-line error, exit 1, and no venv, not even a hidden
/// half-made one beside it.
#[test]
fn wasipy_venv_on_a_full_disk_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let out = with_file_size_limit(&mut venv_command(&dir, &[]), 64);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim()
            .lines()
            .last()
            .map(|l| l.starts_with("wasipy: error: cannot write")),
        Some(true),
        "{err}"
    );
    assert!(err.contains("File too large"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
