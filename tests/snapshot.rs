//! Start-up snapshots: runs that resume one behave as runs that start the interpreter
//! afresh, runs that cannot resume one start afresh, and runtimes without a preinit module
//! get no snapshot.

mod common;

use common::*;

/// Whether the runtime under test ships `python-preinit.wasm` (built by
/// `scripts/build-runtime`; the catalogue's runtimes do not).
fn has_preinit() -> bool {
    ensure_runtime();
    shared_home()
        .join("runtimes")
        .join(&runtime().id)
        .join("python-preinit.wasm")
        .is_file()
}

/// What a run can observe of its start: argv, flags, paths, environment, working
/// directory, locale, stdio, the modules loaded and where they came from.
const PROBE: &str = r#"
import sys, os, locale, encodings
print(sys.argv, sys.orig_argv, sys.flags)
print(sys.executable, sys.prefix, sys.base_prefix, sys.path, sys._stdlib_dir)
print(os.getcwd(), os.environ.get("PROBE_VAR"), os.environb.get(b"PROBE_VAR"), "__WASIPY_CWD" in os.environ)
print(os.__file__, encodings.__file__, os.path.__name__, locale.setlocale(locale.LC_CTYPE))
print(sys.getfilesystemencoding(), sys.stdout.encoding, sys.stdout.line_buffering, sys.stdin.isatty())
print(sorted(sys.modules))
print(hash("determined by PYTHONHASHSEED"))
"#;

fn probe(venv: &TestVenv, snapshot: &str, extra_env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = venv.python();
    cmd.current_dir(venv.tmp.path())
        .env("WASIPY_SNAPSHOT", snapshot)
        .env("PROBE_VAR", "from the host")
        .envs(extra_env.iter().copied())
        .args(args)
        .args(["-c", PROBE, "an arg"]);
    run_ok(&mut cmd)
}

#[test]
fn resumed_runs_see_what_fresh_runs_see() {
    if !has_preinit() {
        return;
    }
    let venv = TestVenv::new();
    assert!(!compiled_snapshots(&shared_cache()).is_empty());
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, &[&str])] = &[
        (&[("PYTHONHASHSEED", "7")], &[]),
        (
            &[("PYTHONHASHSEED", "7"), ("LANG", "en_US.UTF-8")],
            &["-I", "-u"],
        ),
        (&[("PYTHONHASHSEED", "7")], &["-S"]),
        (&[("PYTHONHASHSEED", "7"), ("LC_ALL", "C")], &["-B"]),
    ];
    for (env, args) in cases {
        let fresh = probe(&venv, "off", env, args);
        // PYTHONHASHSEED itself makes a run start afresh: compare everything else with a
        // resumed run, and the hash with the fresh run's under the same seed.
        let env_without_seed: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .filter(|(k, _)| *k != "PYTHONHASHSEED")
            .collect();
        let resumed = probe(&venv, "on", &env_without_seed, args);
        let (fresh_head, _) = fresh
            .rsplit_once('\n')
            .unwrap()
            .0
            .rsplit_once('\n')
            .unwrap();
        let (resumed_head, _) = resumed
            .rsplit_once('\n')
            .unwrap()
            .0
            .rsplit_once('\n')
            .unwrap();
        assert_eq!(fresh_head, resumed_head, "{env:?} {args:?}");
        // (Under -I, CPython ignores PYTHONHASHSEED: then the hash is random in both.)
        if !args.contains(&"-I") {
            assert_eq!(fresh, probe(&venv, "on", env, args), "{env:?} {args:?}");
        }
    }
}

#[test]
fn a_run_says_whether_it_resumed() {
    if !has_preinit() {
        return;
    }
    let venv = TestVenv::new();
    let log = |args: &[&str]| {
        let out = venv
            .python()
            .env("WASIPY_LOG", "debug")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    assert!(log(&["-c", "pass"]).contains("snapshot loaded"));
    assert!(!log(&["-c", "pass"]).contains("cannot resume"));
    assert!(log(&["-X", "importtime", "-c", "pass"]).contains("cannot resume"));
    // -X importtime reports the modules a snapshot would have imported already.
    assert!(log(&["-X", "importtime", "-c", "pass"]).contains("_collections_abc\n"));
    let out = venv
        .python()
        .args(["-c", "import sys; sys.exit(3)"])
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(3));
}

#[test]
fn runtimes_without_a_preinit_module_get_no_snapshot() {
    if has_preinit() {
        return;
    }
    let venv = TestVenv::new();
    run_ok(venv.python().args(["-c", "pass"]));
    // The shared cache may hold other runtimes' snapshots (an earlier run's test runtime).
    let prefix = &runtime().sha256[..32];
    let ours: Vec<_> = compiled_snapshots(&shared_cache())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}

#[test]
fn a_bad_preinit_module_costs_the_snapshot_not_the_run() {
    if !has_preinit() {
        return;
    }
    // A private store holding a copy of the runtime under test, its preinit module broken.
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtimes = home.path().join("runtimes");
    std::fs::create_dir_all(&runtimes).unwrap();
    let id = &runtime().id;
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(shared_home().join("runtimes").join(id))
        .arg(&runtimes)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(runtimes.join(id).join("python-preinit.wasm"), b"not wasm").unwrap();
    let private = |program: &std::path::Path| {
        let mut cmd = std::process::Command::new(program);
        cmd.env("WASIPY_HOME", home.path())
            .env("WASIPY_CACHE_DIR", cache.path())
            .env("WASIPY_COMPILE", "foreground")
            .stdin(std::process::Stdio::null());
        cmd
    };
    let venv = home.path().join("venv");
    // Made without trying the snapshot, so the first run below is the first attempt.
    run_ok(
        private(BIN.as_ref())
            .env("WASIPY_SNAPSHOT", "off")
            .arg("venv")
            .arg(&venv)
            .args(["--without-pip", "--runtime", id]),
    );
    let run = || {
        private(&venv.join("bin/python"))
            .args(["-c", "print('ok')"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "ok\n");
    let warning = stderr(&first);
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(warning.contains("python-preinit.wasm` failed"), "{warning}");
    let second = run();
    assert!(second.status.success());
    assert_eq!(stdout(&second), "ok\n");
    assert_eq!(stderr(&second), "", "the failure is not retried");
}
