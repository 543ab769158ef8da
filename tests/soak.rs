//! Soak: 1,000 `python -c` runs in sequence and 200 child interpreters in sequence from one
//! parent, with the host process's descriptors, threads and memory measured at the start
//! and at the end: nothing grows without bound. The figures are printed (`--nocapture`)
//! for the README's robustness section.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

/// `(open descriptors, threads, resident KiB)` of process `pid`, from `/proc`.
fn usage(pid: u32) -> (usize, u32, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (fds, field("Threads:") as u32, field("VmRSS:"))
}

/// Threads of process `pid` running a child interpreter (named `python.wasm child`, which
/// `/proc` cuts to 15 bytes).
fn child_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.starts_with("python.wasm chi"))
        .count()
}

/// Runs `cmd` to its end; returns its stdout and its peak resident set in KiB.
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which also gives its rusage
fn run_measured(cmd: &mut std::process::Command) -> (String, i64) {
    let child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.unwrap(), &mut out).unwrap();
    let mut status = 0;
    // SAFETY: waits for our own child; `rusage` is written by the kernel.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{out}"
    );
    (out, rusage.ru_maxrss)
}

/// Every file under `dir`, recursively (the store and cache must not fill up).
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files_under(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The soak tests take turns: each counts files the other's runs create for a moment (the
/// bridge's channels), and the RSS of one process while the other loads the machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits until no compile is under way in the shared cache (a background compile that an
/// earlier test started writes its file when it ends): each holds its lock file.
fn wait_for_compiles() {
    use std::os::fd::AsRawFd;
    let Ok(entries) = std::fs::read_dir(shared_cache().join("compiled")) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.path().extension().is_some_and(|e| e == "lock") {
            if let Ok(lock) = std::fs::File::open(entry.path()) {
                // SAFETY: flock on a descriptor we own; released when it is closed.
                unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
            }
        }
    }
}

#[test]
fn a_thousand_runs_in_sequence_leave_nothing_growing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let venv = TestVenv::new();
    let code =
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('Threads:')))";
    run_ok(venv.python().args(["-c", code])); // compiled and cached before counting
    wait_for_compiles();
    let files = || files_under(&shared_cache()) + files_under(&shared_home());
    let files_before = files();
    let start = std::time::Instant::now();
    let mut runs = Vec::new();
    for _ in 0..1000 {
        let (out, peak) = run_measured(venv.python().args(["-c", code]));
        runs.push((out.trim().parse::<u32>().unwrap(), peak));
    }
    let took = start.elapsed();
    let peak = |r: &[(u32, i64)]| r.iter().map(|(_, p)| *p).max().unwrap();
    let threads = |r: &[(u32, i64)]| r.iter().map(|(t, _)| *t).max().unwrap();
    let (first, last) = (&runs[..50], &runs[950..]);
    println!(
        "1000 runs in {:.1} s: peak RSS first 50 {} KiB, last 50 {} KiB; threads {} / {}; \
         files in the store and cache {} / {}",
        took.as_secs_f64(),
        peak(first),
        peak(last),
        threads(first),
        threads(last),
        files_before,
        files()
    );
    assert!(peak(last) <= peak(first) * 11 / 10, "RSS grew");
    assert_eq!(threads(first), threads(last));
    assert_eq!(files(), files_before, "the store or cache grew");
}

/// [`usage`] once no child interpreter's thread is left: a child's thread ends just after
/// its parent saw it exit.
fn settled(pid: u32) -> (usize, u32, u64) {
    for _ in 0..40 {
        if child_threads(pid) == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        child_threads(pid),
        0,
        "a child interpreter's thread is left"
    );
    usage(pid)
}

#[test]
fn two_hundred_children_in_sequence_leave_nothing_growing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let venv = TestVenv::new();
    let code = r#"
import subprocess, sys
def mark(label):
    print(label, flush=True)
    sys.stdin.readline()  # the test measures this process meanwhile
for i in range(200):
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    assert out.stdout == "42\n", out
    if i == 0:
        mark("start")
mark("end")
"#;
    let mut child = venv
        .python()
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut at = Vec::new();
    let start = std::time::Instant::now();
    for label in ["start", "end"] {
        assert_eq!(lines.next().unwrap().unwrap(), label);
        at.push(settled(pid));
        stdin.write_all(b"\n").unwrap();
    }
    assert!(child.wait().unwrap().success());
    let ((fds0, threads0, rss0), (fds1, threads1, rss1)) = (at[0], at[1]);
    println!(
        "200 children in {:.1} s: descriptors {fds0} / {fds1}, threads {threads0} / {threads1}, \
         RSS {rss0} / {rss1} KiB",
        start.elapsed().as_secs_f64()
    );
    assert!(fds1 <= fds0, "descriptors leaked");
    // Besides the main and guest threads: wasmtime-wasi's tokio workers (one per core) and
    // its blocking pool, whose idle threads end after 10 s; a bound, not a count that grows.
    assert!(threads1 <= threads0 + 4, "threads left behind");
    assert!(rss1 <= rss0 + 64 * 1024, "RSS grew by more than 64 MiB");
}
