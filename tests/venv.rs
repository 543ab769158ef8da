//! `wasipy venv` and the bad inputs the launcher must survive: a missing or corrupt runtime,
//! broken `pyvenv.cfg`, a directory that is not a venv.

mod common;

use common::*;
use std::path::Path;

#[test]
fn writes_a_pep_405_layout() {
    let venv = TestVenv::new();
    let cfg = std::fs::read_to_string(venv.dir.join("pyvenv.cfg")).unwrap();
    let rt = runtime();
    for line in [
        format!("home = {}", runtime_home()),
        "include-system-site-packages = false".to_owned(),
        format!("version = {}", rt.version),
        "prompt = .venv".to_owned(),
        format!("wasipy-runtime = {}", rt.id),
    ] {
        assert!(cfg.lines().any(|l| l == line), "missing `{line}` in\n{cfg}");
    }
    assert!(cfg.lines().any(|l| l.starts_with("wasipy = ")), "{cfg}");
    assert!(venv.site_packages().join("_wasipy.pth").is_file());
    for alias in ["python3".to_owned(), format!("python{}", rt.minor)] {
        assert_eq!(
            std::fs::read_link(venv.bin(&alias)).unwrap(),
            Path::new("python")
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(venv.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != ".venv")
        .collect();
    assert!(leftovers.is_empty(), "staging dirs left: {leftovers:?}");
}

#[test]
fn venv_survives_wasipy_being_moved() {
    let venv = TestVenv::new();
    let launcher = venv.bin("python");
    let meta = std::fs::metadata(&launcher).unwrap();
    assert!(
        meta.len() > 1_000_000,
        "bin/python is the launcher itself, not a symlink"
    );
    assert!(!std::fs::symlink_metadata(&launcher)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn prompt_and_clear() {
    let venv = TestVenv::new();
    std::fs::write(venv.site_packages().join("marker.py"), "").unwrap();
    run_ok(&mut venv_command(&venv.dir, &["--prompt", "my env"]));
    assert!(
        venv.site_packages().join("marker.py").exists(),
        "refresh keeps packages"
    );
    let cfg = std::fs::read_to_string(venv.dir.join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("prompt = my env\n"), "{cfg}");
    run_ok(&mut venv_command(&venv.dir, &["--clear"]));
    assert!(
        !venv.site_packages().join("marker.py").exists(),
        "--clear empties"
    );
    run_ok(python(&venv.dir).args(["-c", "pass"]));
}

/// `wasipy venv DIR` again refreshes the venv's files and keeps its settings; what this run
/// sets wins; `--clear` starts afresh.
#[test]
fn a_refresh_keeps_the_venvs_settings() {
    let venv = TestVenv::with_args(&["--without-pip", "--sandbox", "--memory", "1GiB"]);
    let cfg = || std::fs::read_to_string(venv.dir.join("pyvenv.cfg")).unwrap();
    run_ok(&mut venv_command(
        &venv.dir,
        &["--without-pip", "--max-children", "2"],
    ));
    let text = cfg();
    for line in [
        "wasipy-sandbox = true\n",
        "wasipy-memory = 1GiB\n",
        "wasipy-children = 2\n",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    run_ok(&mut venv_command(&venv.dir, &["--without-pip", "--clear"]));
    assert!(!cfg().contains("wasipy-memory"), "{}", cfg());
}

#[test]
fn refuses_to_overwrite_a_non_venv_directory() {
    ensure_runtime();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    for extra in [&[][..], &["--clear"][..]] {
        let out = venv_command(tmp.path(), extra).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("is not a virtual environment"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
            "keep me"
        );
    }
}

#[test]
fn missing_runtime_names_the_fix() {
    let venv = TestVenv::new();
    let empty_home = tempfile::tempdir().unwrap();
    let out = run_with_home(&venv, empty_home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let id = &runtime().id;
    if id.starts_with("test-") {
        // A runtime the user added is not in the catalogue: nothing to install it from.
        assert!(
            err.contains(&format!("runtime `{id}` is neither installed")),
            "{err}"
        );
    } else {
        assert!(err.contains("is not installed"), "{err}");
        assert!(
            err.contains(&format!("wasipy runtime install {id}")),
            "{err}"
        );
    }
}

#[test]
fn corrupt_runtime_file_is_named() {
    let venv = TestVenv::new();
    let home = tempfile::tempdir().unwrap();
    let id = &runtime().id;
    let src = shared_home().join("runtimes").join(id);
    let dst = home.path().join("runtimes").join(id);
    std::fs::create_dir_all(&dst).unwrap();
    for file in ["manifest.json", "python.wasm"] {
        std::fs::copy(src.join(file), dst.join(file)).unwrap();
    }
    let wasm = dst.join("python.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&wasm, &bytes).unwrap();
    let out = run_with_home(&venv, home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("`{}`", wasm.display())), "{err}");
    assert!(err.contains("corrupt"), "{err}");
    // Truncated: the same.
    std::fs::write(&wasm, &bytes[..bytes.len() / 2]).unwrap();
    let out = run_with_home(&venv, home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
}

#[test]
fn broken_pyvenv_cfg_is_named() {
    let venv = TestVenv::new();
    let cfg_path = venv.dir.join("pyvenv.cfg");
    let good = std::fs::read_to_string(&cfg_path).unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"home /usr/local/bin\n", "expected `key = value`"),
        (b"\xff\xfe\x00binary", "is not UTF-8 text"),
        (b"", "names no runtime"),
        (
            b"home = /usr/local/bin\nwasipy-runtime = a\nwasipy-runtime = b\n",
            "twice",
        ),
        (
            b"home = /usr/local/bin\nwasipy-runtime = no-such-runtime\n",
            "`no-such-runtime` is neither installed nor in the catalogue",
        ),
    ];
    for (content, expected) in cases {
        std::fs::write(&cfg_path, content).unwrap();
        let out = venv.python().args(["-c", "pass"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{expected}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{expected}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    std::fs::remove_file(&cfg_path).unwrap();
    let out = venv.python().args(["-c", "pass"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not inside a wasipy venv"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&cfg_path, good).unwrap();
    run_ok(venv.python().args(["-c", "pass"]));
}

/// `python -c pass` in `venv` with the runtime store at `home`.
fn run_with_home(venv: &TestVenv, home: &Path) -> std::process::Output {
    venv.python()
        .env("WASIPY_HOME", home)
        .args(["-c", "pass"])
        .output()
        .unwrap()
}
