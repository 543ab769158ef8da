//! The sandbox profile: escapes fail with Python exceptions and leave the host untouched;
//! forged bridge frames reach nothing the venv does not allow.

mod common;

use common::*;

/// Each attempt prints `name blocked` or `name ESCAPED`.
const ESCAPES: &str = r#"
import os, sys
cwd = os.getcwd()
attempts = {
    "read /etc/passwd": lambda: open("/etc/passwd").read(),
    "list ~/.ssh": lambda: os.listdir(sys.argv[1] + "/.ssh"),
    "list a sibling of the cwd": lambda: os.listdir(os.path.join(cwd, "..", "sibling")),
    "read via .. traversal": lambda: open(os.path.join("..", "sibling", "secret.txt")).read(),
    "absolute path outside": lambda: open(sys.argv[2]).read(),
    "symlink pointing outside": lambda: open("link-out").read(),
    "hard link to outside": lambda: os.link(sys.argv[2], "hard-link"),
    "path with NUL": lambda: open("a\0b", "w"),
    "very long path": lambda: open("x" * 100000, "w"),
    "write the read-only script dir": lambda: open(os.path.join(os.path.dirname(sys.argv[0]), "new.txt"), "w"),
    "chmod outside via the bridge": lambda: os.chmod(sys.argv[2], 0o777),
    "open the host's root": lambda: os.listdir("/"),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "ESCAPED")
    except (OSError, ValueError):
        print(name, "blocked")
import _wasipy_bridge as b
forged = {
    "look up a disallowed host": ("dns.getaddrinfo", {"host": "example.org", "port": 443}),
    "chmod a host file": ("fs.chmod", {"path": "/etc/passwd", "mode": 0o777}),
    "chown a host file": ("fs.chown", {"path": "/etc/passwd", "uid": 1, "gid": 1}),
}
for name, (op, meta) in forged.items():
    try:
        b.call(op, meta)
        print(name, "ESCAPED")
    except OSError:
        print(name, "blocked")
# A forged spawn of a host program runs this sandboxed python again, never the program.
import subprocess
r = b.call("proc.spawn", {"exe": "/bin/sh", "argv": ["-c", "print('still python')"], "env": [],
                          "stdin": "null", "stdout": "pipe", "stderr": "pipe"})[0]
out = b.call("proc.communicate", {"pid": r["pid"]})
print("spawned", out[1][:out[0]["stdout"]].decode().strip())
print("env", sorted(k for k in os.environ if k in ("SECRET_TOKEN", "LANG")), os.environ["TMPDIR"])
"#;

#[test]
fn a_sandboxed_script_cannot_escape() {
    ensure_runtime();
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "key").unwrap();
    let outside = root.join("outside.txt");
    std::fs::write(&outside, "outside").unwrap();
    std::fs::create_dir_all(root.join("sibling")).unwrap();
    std::fs::write(root.join("sibling/secret.txt"), "secret").unwrap();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(&outside, work.join("link-out")).unwrap();
    let tools = root.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(tools.join("escape.py"), ESCAPES).unwrap();

    let venv = work.join(".venv");
    run_ok(&mut venv_command(&venv, &["--sandbox", "--without-pip"]));
    let out = run_ok(
        store_command(venv.join("bin/python"))
            .arg(tools.join("escape.py"))
            .arg(&home)
            .arg(&outside)
            .current_dir(&work)
            .env("SECRET_TOKEN", "s3cret")
            .env("LANG", "C.UTF-8"),
    );
    let lines: Vec<&str> = out.lines().collect();
    let escaped: Vec<&&str> = lines.iter().filter(|l| l.ends_with("ESCAPED")).collect();
    assert!(escaped.is_empty(), "{out}");
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("blocked")).count(),
        15,
        "{out}"
    );
    assert!(out.contains("spawned still python"), "{out}");
    assert!(out.contains("env ['LANG'] /tmp"), "{out}");

    // The host is untouched.
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside");
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(
        std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777,
        0o777
    );
    assert!(!work.join("hard-link").exists());
    assert!(!tools.join("new.txt").exists());
}

#[test]
fn the_sandbox_still_runs_code_in_the_working_directory() {
    ensure_runtime();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join(".venv");
    run_ok(&mut venv_command(&venv, &["--sandbox", "--without-pip"]));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("in.txt"), "mapped").unwrap();
    let cfg = venv.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "wasipy-mounts = \n",
        &format!("wasipy-mounts = {}::/data:ro\n", data.path().display()),
    );
    std::fs::write(&cfg, text).unwrap();
    let code = "import os, tempfile\n\
                open('out.txt', 'w').write(open('/data/in.txt').read())\n\
                with tempfile.NamedTemporaryFile(dir=None) as f: print(f.name.startswith('/tmp/'))\n\
                try:\n    open('/data/new', 'w')\nexcept OSError as e: print('ro', type(e).__name__)\n\
                try:\n    os.unlink('/data/missing')\nexcept OSError as e: print('unlink', type(e).__name__)";
    let out = run_ok(
        store_command(venv.join("bin/python"))
            .args(["-c", code])
            .current_dir(tmp.path()),
    );
    assert_eq!(out, "True\nro PermissionError\nunlink FileNotFoundError\n");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out.txt")).unwrap(),
        "mapped"
    );
}
