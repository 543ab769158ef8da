//! Guest compatibility fixes (`shims/`): what WASI lacks, behaving as native CPython does.

mod common;

use common::*;

#[test]
fn guest_compat_functions_report_the_host() {
    let venv = TestVenv::new();
    let file = venv.tmp.path().join("tool.sh");
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    let code = format!(
        "import os\n\
         print(os.getuid(), os.getgid())\n\
         old = os.umask(0o077); print(oct(os.umask(old)))\n\
         os.chmod({file:?}, 0o755)\n\
         import mmap\n\
         with open({file:?}, 'rb') as f:\n    print(bytes(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)[:2]))\n\
         try:\n    mmap.mmap(-1, 10)\nexcept OSError as e:\n    print('anon', e.errno == __import__('errno').ENOTSUP)\n",
        file = file.to_str().unwrap()
    );
    let out = run_ok(venv.python().args(["-c", &code]));
    // SAFETY: plain queries of this test process's ids.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!(out, format!("{uid} {gid}\n0o77\nb'#!'\nanon True\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

/// Python's documented way to handle a closed stdout.
const BROKEN_PIPE: &str = "import os, sys
try:
    print('x' * 10**7)
    sys.stdout.flush()
except BrokenPipeError:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.stderr.write('broken pipe\\n')
    sys.exit(3)
";

#[test]
fn a_broken_stdout_pipe_is_a_broken_pipe_error() {
    let venv = TestVenv::new();
    let mut child = venv
        .python()
        .args(["-c", BROKEN_PIPE])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -c0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stderr(&out), "broken pipe\n");
}
