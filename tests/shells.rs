//! Activation scripts in real shells, and the ways people invoke a venv's python.
//! The shells come from `scripts/install-test-deps`; a missing one fails its test.

mod common;

use common::*;
use std::path::Path;

/// A venv in a directory whose path has a space and a non-ASCII character.
fn awkward_venv() -> (tempfile::TempDir, std::path::PathBuf) {
    ensure_runtime();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my vé nv");
    run_ok(&mut venv_command(&dir, &["--prompt", "wé env"]));
    (tmp, dir)
}

fn shell(name: &str, script: &str, cwd: &Path) -> String {
    let mut cmd = store_command(name);
    if name == "tcsh" {
        // tcsh expands aliases per line: run a file so `deactivate` is its own line.
        let file = cwd.join("t.csh");
        std::fs::write(&file, script).unwrap();
        cmd.arg("-f").arg(&file);
    } else {
        cmd.arg("-c").arg(script);
    }
    cmd.current_dir(cwd)
        .env_remove("VIRTUAL_ENV")
        .env_remove("VIRTUAL_ENV_DISABLE_PROMPT");
    run_ok(&mut cmd)
}

/// Activation puts the venv's python first, deactivation takes it away again.
fn check_round_trip(out: &str, venv: &Path) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], venv.join("bin/python").to_str().unwrap(), "{out}");
    assert_eq!(lines[1], venv.to_str().unwrap(), "{out}");
    assert_eq!(lines[2], "wé env", "VIRTUAL_ENV_PROMPT: {out}");
    assert!(
        lines[3..].iter().all(|l| !l.contains("my vé nv")),
        "after deactivate: {out}"
    );
}

#[test]
fn posix_shells_activate_and_deactivate() {
    let (tmp, venv) = awkward_venv();
    let activate = venv.join("bin/activate");
    for sh in ["bash", "zsh", "dash"] {
        let script = format!(
            ". '{}' && command -v python && python -c 'import sys; print(sys.prefix)' && echo \"$VIRTUAL_ENV_PROMPT\" \
             && deactivate && (command -v python || echo gone) && echo \"[${{VIRTUAL_ENV:-}}]\"",
            activate.display()
        );
        let out = shell(sh, &script, tmp.path());
        check_round_trip(&out, &venv);
        assert!(out.ends_with("[]\n"), "{sh}: {out}");
    }
}

#[test]
fn bash_prompt_prefix_respects_disable_and_is_restored() {
    let (tmp, venv) = awkward_venv();
    let script = format!(
        "PS1='$ '; . '{0}'; echo \"[$PS1]\"; deactivate; echo \"[$PS1]\"; \
         VIRTUAL_ENV_DISABLE_PROMPT=1; . '{0}'; echo \"[$PS1]\"",
        venv.join("bin/activate").display()
    );
    assert_eq!(
        shell("bash", &script, tmp.path()),
        "[(wé env) $ ]\n[$ ]\n[$ ]\n"
    );
}

#[test]
fn fish_activates_and_deactivates() {
    let (tmp, venv) = awkward_venv();
    let script = format!(
        "source '{}'; and command -v python; and python -c 'import sys; print(sys.prefix)'; and echo $VIRTUAL_ENV_PROMPT; \
         and deactivate; and begin; command -v python; or echo gone; end",
        venv.join("bin/activate.fish").display()
    );
    check_round_trip(&shell("fish", &script, tmp.path()), &venv);
}

#[test]
fn tcsh_activates_and_deactivates() {
    let (tmp, venv) = awkward_venv();
    let script = format!(
        "source '{}'\nwhich python\npython -c 'import sys; print(sys.prefix)'\necho \"$VIRTUAL_ENV_PROMPT\"\n\
         deactivate\nwhich python\necho $?VIRTUAL_ENV\n",
        venv.join("bin/activate.csh").display()
    );
    let out = shell("tcsh", &script, tmp.path());
    check_round_trip(&out, &venv);
    assert!(out.ends_with("0\n"), "{out}");
}

#[test]
fn env_shebang_scripts_and_console_scripts_run_in_the_venv() {
    let (tmp, venv) = awkward_venv();
    let tool = tmp.path().join("tool.py");
    std::fs::write(
        &tool,
        "#!/usr/bin/env python\nimport sys\nprint(sys.prefix)\n",
    )
    .unwrap();
    let console = venv.join("bin/hello");
    std::fs::write(
        &console,
        // The form pip writes when the interpreter's path has a space (a `#!` line cannot).
        format!(
            "#!/bin/sh\n'''exec' '{}' \"$0\" \"$@\"\n' '''\nimport sys\nprint('hello', sys.argv[1:], sys.prefix)\n",
            venv.join("bin/python").display()
        ),
    )
    .unwrap();
    for file in [&tool, &console] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = format!(
        ". '{}' && ./tool.py && hello a 'b c'",
        venv.join("bin/activate").display()
    );
    let out = shell("bash", &script, tmp.path());
    assert_eq!(
        out,
        format!("{0}\nhello ['a', 'b c'] {0}\n", venv.display())
    );
}

#[test]
fn a_users_symlink_elsewhere_follows_to_the_venv() {
    let (tmp, venv) = awkward_venv();
    let elsewhere = tmp.path().join("bin elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = elsewhere.join("python-wasi");
    std::os::unix::fs::symlink(venv.join("bin/python3"), &link).unwrap();
    let out = run_ok(
        store_command(&link).args(["-c", "import sys; print(sys.prefix); print(sys.executable)"]),
    );
    assert_eq!(
        out,
        format!(
            "{}\n{}\n",
            venv.display(),
            venv.join("bin/python").display()
        )
    );
}
