//! wasipy installed as Python developers install their tools: the wheel `scripts/build-wheel`
//! builds, installed by pip into a native venv, makes wasipy venvs that keep working after
//! that venv is deleted. Building the wheel is slow and cannot run inside `cargo test` (it
//! would wait for cargo's lock on `target/`), so the test takes a built one:
//! `WASIPY_TEST_WHEEL=$(scripts/build-wheel) cargo test --release --test wheel`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn the_wheel_installs_wasipy_and_its_venvs_outlive_the_tools_venv() {
    let Some(wheel) = std::env::var_os("WASIPY_TEST_WHEEL") else {
        eprintln!("skipped: set WASIPY_TEST_WHEEL to a wheel scripts/build-wheel built");
        return;
    };
    assert!(Path::new(&wheel).is_file(), "no wheel at {wheel:?}");
    let tmp = tempfile::tempdir().unwrap();
    let tools = tmp.path().join("tools");
    run_ok(Command::new("python3").args(["-m", "venv"]).arg(&tools));
    run_ok(
        Command::new(tools.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(&wheel),
    );
    let wasipy = tools.join("bin/wasipy");
    assert!(
        wasipy.is_file(),
        "the wheel put no wasipy on the venv's PATH"
    );
    ensure_runtime();
    let venv = tmp.path().join("app-venv");
    run_ok(store_command(&wasipy).arg("venv").arg(&venv).args([
        "--without-pip",
        "--runtime",
        &runtime().id,
    ]));
    let platform = || run_ok(python(&venv).args(["-c", "import sys; print(sys.platform)"]));
    assert_eq!(platform(), "wasi\n");
    std::fs::remove_dir_all(&tools).unwrap();
    assert_eq!(platform(), "wasi\n", "the venv needed the tools venv");
}
