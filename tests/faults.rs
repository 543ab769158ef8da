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
