//! Limits per venv: a memory hog gets `MemoryError` and goes on, a self-spawning script stops
//! at the child limit with `BlockingIOError` and leaves no threads behind, channels past the
//! limit are `EMFILE`, and a chmod cannot be raced out of its mount.

mod common;

use common::*;
use std::path::Path;

/// The host threads of the process running this guest (the guest reads the launcher's
/// `/proc/self/status`: host paths mean the same inside).
const THREADS: &str = r#"
def threads():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
"#;

#[test]
fn a_memory_hog_gets_memory_error_and_the_next_statement_runs() {
    let code = r#"
import subprocess, sys
try:
    hog = bytearray(int(sys.argv[1]))
except MemoryError:
    print("MemoryError")
fits = bytearray(100_000_000)
print("next", len(fits))
child = "try:\n bytearray(%s)\nexcept MemoryError:\n print('child MemoryError')" % sys.argv[1]
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout.strip())
"#;
    for (args, hog) in [
        (&["--without-pip", "--memory", "256MiB"][..], "300_000_000"),
        (&["--without-pip", "--sandbox"][..], "600_000_000"),
    ] {
        let venv = TestVenv::with_args(args);
        let out = run_ok(venv.python().args(["-c", code, hog]));
        assert_eq!(
            out, "MemoryError\nnext 100000000\nchild MemoryError\n",
            "{args:?}"
        );
    }
}

#[test]
fn a_self_spawning_script_stops_at_the_child_limit_and_leaves_no_threads() {
    let venv = TestVenv::with_args(&["--without-pip", "--max-children", "4"]);
    let script = venv.tmp.path().join("spawn.py");
    let code = format!(
        "{THREADS}{}",
        r#"
import subprocess, sys, time
depth = int(sys.argv[1])
before = threads()
try:
    code = subprocess.run([sys.executable, sys.argv[0], str(depth + 1)]).returncode
except BlockingIOError as e:
    print(f"stopped at depth {depth}: {e}", flush=True)
    sys.exit(3)
if depth == 0:
    for _ in range(50):  # a child's thread ends just after its exit code is known
        if threads() == before:
            break
        time.sleep(0.02)
    print("exit", code, "threads back", threads() == before, before, threads())
sys.exit(code)
"#
    );
    std::fs::write(&script, code).unwrap();
    let out = venv.python().arg(&script).arg("0").output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("stopped at depth 4: [Errno 6] Resource temporarily unavailable")
            && lines[0].contains("4 alive at once, `wasipy-children`"),
        "{text}"
    );
    assert!(lines[1].starts_with("exit 3 threads back True"), "{text}");
}

#[test]
fn children_in_all_are_bounded_per_run() {
    let venv = TestVenv::with_args(&["--without-pip", "--max-children-total", "5"]);
    let code = r#"
import subprocess, sys
done = 0
try:
    for _ in range(20):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        done += 1
except OSError as e:
    print(done, type(e).__name__, e.errno == __import__("errno").EAGAIN)
"#;
    let out = run_ok(venv.python().args(["-c", code]));
    assert_eq!(out, "5 BlockingIOError True\n");
}

#[test]
fn channels_past_the_limit_are_emfile_and_closing_one_frees_it() {
    let venv = TestVenv::with_args(&["--without-pip", "--max-channels", "8"]);
    let code = r#"
import errno, socket
socks = []
try:
    while len(socks) < 100:
        socks.append(socket.socket())
except OSError as e:
    print(len(socks), e.errno == errno.EMFILE, e.strerror)
socks.pop().close()
socks.append(socket.socket())
print("reopened")
"#;
    let out = run_ok(venv.python().args(["-c", code]));
    assert_eq!(
        out,
        "8 True Too many open files (`wasipy-channels` in pyvenv.cfg)\nreopened\n"
    );
}

/// A child interpreter swaps a directory for a symlink to a host directory outside the
/// sandbox (a relative one: an absolute target outside the mounts cannot be created), over
/// and over, while the parent chmods a file inside it 10,000 times: the
/// host file's mode never changes. Each state is held for a millisecond, so the chmods meet
/// the directory, the link and the swaps between them on a busy machine too. The folders
/// are not under `/tmp`: there the sandbox's private `/tmp` would answer for the link's
/// target (ENOENT) instead of the refusal (EACCES) this counts.
#[test]
fn a_chmod_cannot_be_raced_out_of_its_mount() {
    let venv = TestVenv::with_args(&["--without-pip", "--sandbox"]);
    let host = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let work = host.path().join("work");
    let outside = host.path().join("outside");
    for dir in [&work.join("d"), &outside] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("f"), "x").unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    let secret = outside.join("f");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let code = r#"
import os, subprocess, sys, time
swap = """
import os, sys, time
while True:
    os.rename("d", "d.real")
    os.symlink("../outside", "d")
    time.sleep(0.001)
    os.unlink("d")
    os.rename("d.real", "d")
    if not os.path.exists("swapping"):
        open("swapping", "w").close()
    time.sleep(0.001)
"""
child = subprocess.Popen([sys.executable, "-c", swap])
while not os.path.exists("swapping"):  # a child interpreter takes a moment to start
    time.sleep(0.01)
changed = missing = escaping = attempts = 0
# At least 10,000 attempts, and on a busy machine on until some met the link and some the directory.
while attempts < 10_000 or (0 in (escaping, changed) and attempts < 200_000):
    try:
        os.chmod("d/f", 0o644 if attempts % 2 else 0o640)
        changed += 1
    except FileNotFoundError:
        missing += 1  # between the swaps
    except PermissionError:
        escaping += 1  # "d" was the link
    attempts += 1
alive = child.poll() is None
child.kill()
child.wait()
print(attempts >= 10_000, alive, changed > 0, escaping > 0)
"#;
    let out = run_ok(venv.python().args(["-c", code]).current_dir(&work));
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the host file's mode changed");
    assert_eq!(out, "True True True True\n");
    // The real directory, wherever the child was stopped.
    let real = ["d.real", "d"]
        .map(|d| work.join(d))
        .into_iter()
        .find(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()))
        .unwrap();
    let inside = std::fs::metadata(real.join("f")).unwrap();
    assert!([0o640, 0o644].contains(&(inside.permissions().mode() & 0o777)));
}

#[test]
fn a_bad_limit_is_a_one_line_error_naming_the_file() {
    let venv = TestVenv::new();
    let cfg = venv.dir.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}wasipy-memory = lots\n")).unwrap();
    let out = venv.python().args(["-c", "pass"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&cfg.display().to_string()) && err.contains("`wasipy-memory = lots`"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = venv_command(&tmp.path().join("v"), &["--memory", "5GiB"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!Path::new(&tmp.path().join("v")).exists());
}
