//! What editors and tools do with an interpreter: helper scripts from their own dirs,
//! `-I -B -c` probes, `-V`, and the REPL on a terminal.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const INFO_PY: &str = r#"
import json, platform, site, sys, sysconfig
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "path": sys.path,
    "version_info": list(sys.version_info[:3]),
    "site_packages": site.getsitepackages(),
    "purelib": sysconfig.get_paths()["purelib"],
    "scripts": sysconfig.get_paths()["scripts"],
    "python_version": platform.python_version(),
}))
"#;

fn field<'a>(json: &'a serde_json::Value, key: &str) -> &'a str {
    json[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
}

#[test]
fn editor_helper_in_its_own_dir_reports_host_paths() {
    let venv = TestVenv::new();
    let editor = tempfile::tempdir().unwrap();
    let helpers = editor.path().join("helpers");
    std::fs::create_dir(&helpers).unwrap();
    std::fs::write(helpers.join("info.py"), INFO_PY).unwrap();
    let third = tempfile::tempdir().unwrap();
    let out = run_ok(
        venv.python()
            .current_dir(third.path())
            .arg(helpers.join("info.py")),
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        field(&json, "executable"),
        venv.bin("python").to_str().unwrap()
    );
    assert_eq!(field(&json, "prefix"), venv.dir.to_str().unwrap());
    let rt = runtime();
    assert_eq!(field(&json, "python_version"), rt.version);
    let info: Vec<u32> = rt.version.split('.').map(|n| n.parse().unwrap()).collect();
    assert_eq!(json["version_info"], serde_json::json!(info));
    let site = venv.site_packages();
    assert_eq!(
        json["site_packages"],
        serde_json::json!([site.to_str().unwrap()])
    );
    assert_eq!(field(&json, "purelib"), site.to_str().unwrap());
    assert_eq!(
        field(&json, "scripts"),
        venv.dir.join("bin").to_str().unwrap()
    );
    for key in ["executable", "prefix", "base_prefix", "purelib", "scripts"] {
        assert!(
            std::path::Path::new(field(&json, key)).exists(),
            "{key} does not exist on the host"
        );
    }
    assert_eq!(
        json["path"][0],
        serde_json::json!(helpers.to_str().unwrap()),
        "script dir first"
    );
}

#[test]
fn isolated_probe_with_a_cache_dir_on_sys_path() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join("probe_mod.py"), INFO_PY).unwrap();
    let code = format!(
        "import sys; sys.path.insert(0, {:?}); import probe_mod",
        cache.path().to_str().unwrap()
    );
    let third = tempfile::tempdir().unwrap();
    let out = run_ok(
        venv.python()
            .current_dir(third.path())
            .args(["-I", "-B", "-c", &code]),
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        field(&json, "executable"),
        venv.bin("python").to_str().unwrap()
    );
    assert_eq!(field(&json, "prefix"), venv.dir.to_str().unwrap());
    assert!(
        std::fs::read_dir(cache.path())
            .unwrap()
            .all(|e| e.unwrap().file_name() != "__pycache__"),
        "-B"
    );
}

#[test]
fn version_and_help_flags_behave_like_cpython() {
    let venv = TestVenv::new();
    let expected = format!("Python {}\n", runtime().version);
    assert_eq!(run_ok(venv.python().arg("-V")), expected);
    assert_eq!(run_ok(venv.python().arg("--version")), expected);
    assert!(run_ok(venv.python().arg("-h")).contains("-c cmd"));
    let flags = run_ok(venv.python().args([
        "-E", "-s", "-B", "-u", "-O", "-W", "error", "-X", "utf8", "-c",
        "import sys; f = sys.flags; print(f.ignore_environment, f.no_user_site, f.dont_write_bytecode, f.optimize, f.utf8_mode, sys.warnoptions)",
    ]));
    assert_eq!(flags, "1 1 1 1 1 ['error']\n");
    let no_site = run_ok(venv.python().args([
        "-S",
        "-c",
        "import sys; print(sys.flags.no_site, 'site' in sys.modules)",
    ]));
    assert_eq!(no_site, "1 False\n");
}

#[test]
fn program_from_stdin_runs_non_interactively() {
    let venv = TestVenv::new();
    for args in [&["-"][..], &[][..]] {
        let out = output_with_stdin(venv.python().args(args), b"print(6 * 7)\n");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n", "{args:?}");
    }
}

/// Runs `python ARGS` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_a_pty(venv: &TestVenv, args: &str, input: &[u8]) -> (String, Option<i32>) {
    let command = format!("'{}' {args}", venv.bin("python").display());
    let mut child = store_command("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "REPL did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    (reader.join().unwrap(), status.code())
}

#[test]
fn repl_on_a_terminal_evaluates_and_exits_on_eof() {
    let venv = TestVenv::new();
    let (out, code) = on_a_pty(&venv, "", b"1+1\n\x04");
    assert!(out.contains(">>> "), "no prompt: {out}");
    // Typed input may be echoed before the prompt appears; the result follows a prompt.
    assert!(
        out.contains(">>> 2\r\n") || out.contains("\n2\r\n"),
        "1+1 not evaluated: {out:?}"
    );
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn dash_i_after_a_script_enters_the_repl() {
    let venv = TestVenv::new();
    let script = venv.tmp.path().join("s.py");
    std::fs::write(&script, "answer = 40\n").unwrap();
    let (out, code) = on_a_pty(
        &venv,
        &format!("-i '{}'", script.display()),
        b"answer + 2\nexit()\n",
    );
    assert!(out.contains("42"), "{out:?}");
    assert_eq!(code, Some(0), "{out}");
}

/// pdb on a terminal, as people debug: breakpoints, stepping, printing, listing the source,
/// continuing, and post-mortem after an exception; `breakpoint()` stops unless
/// `PYTHONBREAKPOINT=0`.
#[test]
fn pdb_and_breakpoint_work_on_a_terminal() {
    let venv = TestVenv::new();
    let script = venv.tmp.path().join("debugged.py");
    std::fs::write(&script, "x = 41\ny = x + 1\nprint('y is', y)\n1 / 0\n").unwrap();
    // After post-mortem, pdb restarts the program: the second `q` ends it.
    let commands = b"b 2\nc\np x\nl\nn\np y\nc\np y * 2\nq\nq\n";
    let (out, _) = on_a_pty(&venv, &format!("-m pdb '{}'", script.display()), commands);
    for expected in [
        "Breakpoint 1 at",
        "(2)<module>()\r\n-> y = x + 1",
        "41\r\n",
        "  1  \tx = 41\r\n  2 B->\ty = x + 1",
        "-> print('y is', y)",
        "42\r\n",
        "ZeroDivisionError",
        "Entering post mortem debugging",
        "84\r\n",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }

    let stops = venv.tmp.path().join("stops.py");
    std::fs::write(&stops, "z = 5\nbreakpoint()\nprint('after', z)\n").unwrap();
    let (out, code) = on_a_pty(&venv, &format!("'{}'", stops.display()), b"p z + 1\nc\n");
    assert!(out.contains("(Pdb) ") && out.contains("6\r\n"), "{out}");
    assert!(out.contains("after 5"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    let command = format!(
        "env PYTHONBREAKPOINT=0 '{}' '{}'",
        venv.bin("python").display(),
        stops.display()
    );
    let out = run_ok(store_command("sh").args(["-c", &command]));
    assert_eq!(out, "after 5\n");
}

/// An editor indexes what `sys.path` names: the guest sees the runtime's stdlib at its host
/// path in the store (an embedded one, the default runtime's, is copied out at install),
/// so `os.__file__`, `json.__file__`, every directory on `sys.path` (CPython's
/// `pythonXY.zip`, absent natively too, aside) and `sysconfig`'s stdlib name files on the
/// host, in a transparent and in a sandboxed venv; and tracebacks too, where the stdlib
/// has its sources (the default runtime's is bytecode only).
#[test]
fn the_stdlib_is_where_the_host_can_read_it() {
    ensure_runtime();
    let manifest = shared_home().join(format!("runtimes/{}/manifest.json", runtime().id));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert!(!manifest["stdlib"].is_null(), "{manifest}");
    let code = r#"
import json, os, sys, sysconfig, traceback
try:
    json.loads("{")
except ValueError:
    frames = [f.filename for f in traceback.extract_tb(sys.exc_info()[2])]
sources = os.path.exists(os.path.join(os.path.dirname(json.__file__), "decoder.py"))
print(json.dumps({"files": [os.__file__, json.__file__] + frames[-1:] * sources,
                  "dirs": [p for p in sys.path[1:] if not p.endswith(".zip")],
                  "stdlib": sysconfig.get_paths()["stdlib"]}))
"#;
    for args in [&["--without-pip"][..], &["--without-pip", "--sandbox"]] {
        let venv = TestVenv::with_args(args);
        let out = run_ok(venv.python().args(["-c", code]));
        let seen: serde_json::Value = serde_json::from_str(&out).unwrap();
        let store = shared_home().join("runtimes").join(&runtime().id);
        let stdlib = field(&seen, "stdlib");
        assert!(Path::new(stdlib).starts_with(&store), "{args:?}: {stdlib}");
        for file in seen["files"].as_array().unwrap() {
            let file = file.as_str().unwrap();
            assert!(
                Path::new(file).is_file() && file.starts_with(stdlib),
                "{args:?}: {file}"
            );
        }
        for dir in seen["dirs"].as_array().unwrap() {
            assert!(Path::new(dir.as_str().unwrap()).is_dir(), "{args:?}: {dir}");
        }
    }
}
