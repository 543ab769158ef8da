//! The venv's python as users run it: paths, argv, stdio, exit codes, traps.

mod common;

use common::*;
use std::process::Stdio;

#[test]
fn reports_wasi_and_host_paths() {
    let venv = TestVenv::new();
    let out = run_ok(venv.python().args([
        "-c",
        "import sys, site; print(sys.platform); print(sys.prefix); print(sys.executable); print(site.getsitepackages()[0])",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "wasi");
    assert_eq!(lines[1], venv.dir.to_str().unwrap());
    assert_eq!(lines[2], venv.bin("python").to_str().unwrap());
    assert_eq!(lines[3], venv.site_packages().to_str().unwrap());
}

#[test]
fn script_in_cwd_reads_stdin_and_writes_a_file_the_host_sees() {
    let venv = TestVenv::new();
    let work = venv.tmp.path().join("work dir");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(
        work.join("app.py"),
        "import sys, os\n\
         data = sys.stdin.read()\n\
         open('output.txt', 'w').write(data.upper())\n\
         print(sys.argv, os.getcwd(), __file__)\n\
         print('to stderr', file=sys.stderr)\n",
    )
    .unwrap();
    let out = output_with_stdin(
        venv.python()
            .current_dir(&work)
            .args(["app.py", "arg1", "arg two"]),
        b"hello from stdin\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = format!(
        "['app.py', 'arg1', 'arg two'] {} {}\n",
        work.display(),
        work.join("app.py").display()
    );
    assert_eq!(stdout(&out), expected);
    assert_eq!(stderr(&out), "to stderr\n");
    assert_eq!(
        std::fs::read_to_string(work.join("output.txt")).unwrap(),
        "HELLO FROM STDIN\n"
    );
}

#[test]
fn exit_codes_are_the_guests() {
    let venv = TestVenv::new();
    for (code, expected) in [
        ("pass", 0),
        ("import sys; sys.exit(3)", 3),
        ("import sys; sys.exit(200)", 200),
        ("import sys; sys.exit(255)", 255),
        ("raise SystemExit('message')", 1),
        ("raise ValueError('boom')", 1),
    ] {
        let out = venv.python().args(["-c", code]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{code}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn missing_script_exits_2_with_cpythons_message() {
    let venv = TestVenv::new();
    let out = venv
        .python()
        .current_dir(venv.tmp.path())
        .arg("missing.py")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("can't open file"), "{err}");
    assert!(
        err.contains(&venv.tmp.path().join("missing.py").display().to_string()),
        "{err}"
    );
}

#[test]
fn runs_stdlib_modules_on_host_files() {
    let venv = TestVenv::new();
    std::fs::write(venv.tmp.path().join("data.json"), r#"{"a": [1, 2]}"#).unwrap();
    let out = run_ok(venv.python().current_dir(venv.tmp.path()).args([
        "-m",
        "json.tool",
        "--compact",
        "data.json",
    ]));
    assert_eq!(out, "{\"a\":[1,2]}\n");
}

/// Listings larger than wasi-libc's 4 KiB buffer are served in pieces by cookie; every
/// entry must arrive once, with its type, as the host lists it.
#[test]
fn big_directory_listings_match_the_hosts() {
    let venv = TestVenv::new();
    let dir = venv.tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..3000 {
        let name = format!("{i:04}-{}.txt", "x".repeat(i % 97));
        std::fs::write(dir.join(name), b"").unwrap();
    }
    std::fs::create_dir(dir.join("a directory")).unwrap();
    std::os::unix::fs::symlink("0001-x.txt", dir.join("a link")).unwrap();
    let mut expected: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            let name = e.file_name().into_string().unwrap();
            let py = |b: bool| if b { "True" } else { "False" };
            format!("{name}|{}|{}", py(kind.is_dir()), py(kind.is_symlink()))
        })
        .collect();
    expected.sort();
    let out = run_ok(venv.python().arg("-c").arg(format!(
        "import os\n\
         names = sorted(os.listdir({dir:?}))\n\
         entries = sorted(f'{{e.name}}|{{e.is_dir(follow_symlinks=False)}}|{{e.is_symlink()}}'\n\
                          for e in os.scandir({dir:?}))\n\
         assert [e.split('|')[0] for e in entries] == names\n\
         print('\\n'.join(entries))",
    )));
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 3002);
    assert_eq!(got, expected);
}

#[test]
fn aliases_absolute_relative_and_path_lookup_find_the_venv() {
    let venv = TestVenv::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let probe = "import sys, os; print(sys.executable, sys.prefix, os.getcwd())";
    let versioned = format!("python{}", runtime().minor);
    for name in ["python", "python3", versioned.as_str()] {
        let out = run_ok(
            python_named(&venv, name)
                .current_dir(elsewhere.path())
                .args(["-c", probe]),
        );
        let expected = format!(
            "{} {} {}\n",
            venv.bin(name).display(),
            venv.dir.display(),
            elsewhere.path().display()
        );
        assert_eq!(out, expected, "{name}");
    }
    // Relative path from the venv's parent.
    let out = run_ok(
        store_command(".venv/bin/python3")
            .current_dir(venv.tmp.path())
            .args(["-c", probe]),
    );
    assert!(
        out.starts_with(&format!("{} ", venv.bin("python3").display())),
        "{out}"
    );
    // A bare name found on PATH.
    let path = format!(
        "{}:{}",
        venv.dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run_ok(
        store_command(&versioned)
            .env("PATH", path)
            .current_dir(elsewhere.path())
            .args(["-c", probe]),
    );
    assert!(
        out.starts_with(&format!("{} ", venv.bin(&versioned).display())),
        "{out}"
    );
}

fn python_named(venv: &TestVenv, name: &str) -> std::process::Command {
    let mut cmd = store_command(venv.bin(name));
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn environment_passes_through_without_private_variables() {
    let venv = TestVenv::new();
    let out = run_ok(venv.python().env("WASIPY_TEST_VALUE", "a b=c").args([
        "-c",
        "import os; print(os.environ['WASIPY_TEST_VALUE']); print(sorted(k for k in os.environ if k.startswith('__WASIPY')))",
    ]));
    assert_eq!(out, "a b=c\n[]\n");
}

#[test]
fn isolated_mode_still_gets_the_venv_and_cwd() {
    let venv = TestVenv::new();
    let out = run_ok(venv.python().current_dir(venv.tmp.path()).args([
        "-I",
        "-c",
        "import sys, os; print(sys.flags.isolated, sys.prefix, os.getcwd())",
    ]));
    assert_eq!(
        out,
        format!("1 {} {}\n", venv.dir.display(), venv.tmp.path().display())
    );
}

#[test]
fn deep_python_recursion_raises_recursion_error() {
    let venv = TestVenv::new();
    let out = venv
        .python()
        .args(["-c", "def f(n): return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError:\n    print('caught')"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "caught\n");
}

#[test]
fn abort_is_a_one_line_trap_report_and_nonzero_exit() {
    let venv = TestVenv::new();
    let out = venv
        .python()
        .args(["-c", "import os; os.abort()"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(134));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wasipy: python.wasm trapped:"), "{err}");
}

#[test]
fn c_stack_overflow_is_reported_not_a_panic() {
    let venv = TestVenv::new();
    let code = "class A:\n    def __repr__(self): return repr([self])\nrepr(A())";
    let out = venv.python().args(["-c", code]).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("RecursionError") || err.contains("trapped"),
        "{err}"
    );
}

#[test]
fn non_utf8_argument_is_a_clear_error() {
    use std::os::unix::ffi::OsStrExt;
    let venv = TestVenv::new();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let out = venv
        .python()
        .args([
            std::ffi::OsStr::new("-c"),
            std::ffi::OsStr::new("pass"),
            bad,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
