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

/// Found by CPython's own tests (`test_os`, `test_posix`): errors name the path object given,
/// bad ids are a TypeError, a terminal size asked of a non-terminal is the guest's own
/// ENOTTY, and `posix` has the functions `os` has.
#[test]
fn replaced_os_functions_fail_as_cpythons_do() {
    let venv = TestVenv::new();
    let missing = venv.tmp.path().join("missing");
    let code = format!(
        "import errno, os\n\
         name = {missing:?}\n\
         for f in (lambda: os.chmod(name, 0o644), lambda: os.chown(name, 1, 1)):\n    \
             try:\n        f()\n    except FileNotFoundError as e:\n        print(e.filename is name)\n\
         try:\n    os.chown(name, 1.0, 1)\nexcept TypeError:\n    print('TypeError')\n\
         try:\n    os.chown(os.fsdecode(b'\\xe7w\\xf0'), 1, 1)\nexcept FileNotFoundError:\n    print('undecodable')\n\
         try:\n    os.get_terminal_size(0)\nexcept OSError as e:\n    print(e.errno == errno.ENOTTY)\n\
         import posix\n\
         print(all(getattr(posix, f) is getattr(os, f) for f in ('chmod', 'chown', 'lchown')))\n",
        missing = missing.to_str().unwrap()
    );
    let out = run_ok(venv.python().args(["-c", &code]));
    assert_eq!(out, "True\nTrue\nTypeError\nundecodable\nTrue\nTrue\n");
}

/// WASI has no `pwd` or `grp`: the guest's answer for the host user, so `getpass.getuser()`
/// with no `USER`/`LOGNAME` set, and `~` with no `HOME`, are what they are on the host; a
/// sandboxed guest sees its own user only, with its private temp dir as home.
#[test]
fn pwd_and_grp_answer_for_the_host_user() {
    // SAFETY: the entry is read at once, before any other lookup.
    let (name, home) = unsafe {
        let entry = libc::getpwuid(libc::getuid());
        let text =
            |p: *const libc::c_char| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        (text((*entry).pw_name), text((*entry).pw_dir))
    };
    let code = "import getpass, grp, os, pathlib, pwd\n\
                print(getpass.getuser())\n\
                print(pwd.getpwuid(os.getuid()).pw_dir, pwd.getpwnam(getpass.getuser()).pw_uid == os.getuid())\n\
                print(os.path.expanduser('~'), pathlib.Path.home())\n\
                print(grp.getgrgid(os.getgid()).gr_gid == os.getgid(), len(pwd.getpwall()))\n\
                try:\n    pwd.getpwnam('no such user')\nexcept KeyError as e:\n    print('KeyError', e)\n";
    for (args, home) in [
        (&["--without-pip"][..], home.as_str()),
        (&["--without-pip", "--sandbox"], "/tmp"),
    ] {
        let venv = TestVenv::with_args(args);
        let mut python = venv.python();
        for var in ["USER", "LOGNAME", "LNAME", "USERNAME", "HOME"] {
            python.env_remove(var);
        }
        let out = run_ok(python.args(["-c", code]));
        assert_eq!(
            out,
            format!(
                "{name}\n{home} True\n{home} {home}\nTrue 1\n\
                 KeyError \"getpwnam(): name not found: 'no such user'\"\n"
            ),
            "{args:?}"
        );
    }
}
