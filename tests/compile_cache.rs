//! The compiled code cache as users meet it: a quick first run and the optimised module
//! after it, waiting for a compile, a damaged cache file, and many first runs at once.

mod common;

use common::*;
use std::process::Stdio;

/// A first run compiles quickly (Winch) and starts a background compile of the optimised
/// module (Cranelift), which every later run loads.
#[test]
fn first_run_is_quick_and_later_runs_load_the_optimised_module() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        venv.python()
            .env("WASIPY_CACHE_DIR", cache.path())
            .env("WASIPY_LOG", "debug")
            .args(["-c", "import sys; print(sum(range(10)))"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "45\n");
    assert!(
        stderr(&first).contains("module compiled (Quick)"),
        "{}",
        stderr(&first)
    );
    wait_for_optimised_module(cache.path());
    let second = run();
    assert!(second.status.success());
    assert_eq!(stdout(&second), "45\n");
    let log = stderr(&second);
    assert!(log.contains("compiled module loaded from cache"), "{log}");
    assert!(
        !log.contains("compiled (") && !log.contains("Quick"),
        "{log}"
    );
    let (quick, optimised) = compiled_modules(cache.path());
    assert_eq!((quick.len(), optimised.len()), (1, 1));
}

/// `WASIPY_COMPILE=foreground` and `wasipy runtime compile` wait for the optimised module.
#[test]
fn foreground_compile_waits_for_the_optimised_module() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    let out = venv
        .python()
        .env("WASIPY_CACHE_DIR", cache.path())
        .env("WASIPY_COMPILE", "foreground")
        .env("WASIPY_LOG", "debug")
        .args(["-c", "pass"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("module compiled (Optimized)"),
        "{}",
        stderr(&out)
    );
    let (quick, optimised) = compiled_modules(cache.path());
    assert_eq!((quick.len(), optimised.len()), (0, 1));

    let other = tempfile::tempdir().unwrap();
    let out = wasipy()
        .env("WASIPY_CACHE_DIR", other.path())
        .args(["runtime", "compile", &runtime().id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Compiled runtime"),
        "{}",
        stderr(&out)
    );
    let (quick, optimised) = compiled_modules(other.path());
    assert_eq!((quick.len(), optimised.len()), (0, 1));
}

#[test]
fn truncated_cache_file_is_recompiled_silently() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        venv.python()
            .env("WASIPY_CACHE_DIR", cache.path())
            .env("WASIPY_COMPILE", "foreground")
            .args(["-c", "print('ok')"])
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    // Every compiled file (the interpreter's, and the start-up snapshot's where the runtime
    // has one): a run that resumes the snapshot does not load the interpreter at all.
    let files = compiled_files(cache.path());
    let sizes: Vec<usize> = files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).unwrap();
            std::fs::write(file, &bytes[..bytes.len() / 3]).unwrap();
            bytes.len()
        })
        .collect();
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok\n");
    for (file, size) in files.iter().zip(sizes) {
        let now = std::fs::read(file).unwrap().len();
        if file.to_string_lossy().ends_with("-snapshot.cwasm") {
            // Made again, with a new hash seed: not byte for byte the same file.
            assert!(
                now > size / 2,
                "snapshot {} rewritten whole",
                file.display()
            );
        } else {
            assert_eq!(now, size, "{} rewritten whole", file.display());
        }
    }
}

#[test]
fn sixteen_concurrent_first_runs_share_one_valid_cache() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    let python = |args: &[&str]| {
        let mut cmd = store_command(venv.bin("python"));
        cmd.env("WASIPY_CACHE_DIR", cache.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let children: Vec<_> = (0..16)
        .map(|i| python(&["-c", &format!("print({i})")]).spawn().unwrap())
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("{i}\n"));
    }
    // One quick module, and one optimised module from one background compile.
    wait_for_optimised_module(cache.path());
    let files: Vec<_> = std::fs::read_dir(cache.path().join("compiled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "lock"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(compiled_modules(cache.path()).0.len(), 1, "{files:?}");
    let out = python(&["-c", "pass"])
        .env("WASIPY_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("loaded from cache"),
        "{}",
        stderr(&out)
    );
}

/// A compile killed midway (SIGKILL: no cleanup runs) leaves at most a partial file, named
/// as such and never loaded; the next compile of that file removes it. Planted partial
/// files stand for a kill during the write itself, a window too short to hit reliably.
#[test]
fn a_compile_killed_midway_leaves_no_partial_file_behind() {
    let venv = TestVenv::new();
    let cache = tempfile::tempdir().unwrap();
    let foreground = || {
        let mut cmd = venv.python();
        cmd.env("WASIPY_CACHE_DIR", cache.path())
            .env("WASIPY_COMPILE", "foreground")
            .args(["-c", "print('ok')"]);
        cmd
    };
    for delay_ms in [300, 1500] {
        let mut child = foreground().stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert_eq!(run_ok(&mut foreground()), "ok\n");
    let names: Vec<String> = compiled_files(cache.path())
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty());
    let dir = cache.path().join("compiled");
    for name in &names {
        std::fs::write(
            dir.join(format!(".{name}.partial-killed")),
            vec![0u8; 1 << 20],
        )
        .unwrap();
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    assert_eq!(run_ok(&mut foreground()), "ok\n");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
    let mut again: Vec<String> = compiled_files(cache.path())
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    again.sort();
    let mut names = names;
    names.sort();
    assert_eq!(again, names);
}
