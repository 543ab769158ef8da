//! Subprocesses: this venv's python runs as child interpreters (subprocess, os.system),
//! so pip builds sdists and editable installs; host programs are refused clearly.

mod common;

use common::*;
use std::time::{Duration, Instant};

const CHILDREN: &str = r#"
import os, subprocess, sys
py = sys.executable
r = subprocess.run([py, "-c", "print(42)"], capture_output=True, text=True)
print("run", repr(r.stdout), r.returncode)
print("exit", subprocess.run([py, "-c", "import sys; sys.exit(7)"]).returncode)
try:
    subprocess.run([py, "-c", "import sys; sys.exit(2)"], check=True)
except subprocess.CalledProcessError as e:
    print("check", e.returncode)
out = subprocess.check_output([py, "-c", "import sys; print(sys.stdin.read().upper(), end='')"], input=b"abc")
print("input", out)
r = subprocess.run([py, "-c", "import sys; print('o'); print('e', file=sys.stderr)"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
print("merged", sorted(r.stdout.split()))
r = subprocess.run([py, "-c", "print('hidden')"], stdout=subprocess.DEVNULL)
print("devnull", r.stdout)
p = subprocess.Popen([py, "-c", "import sys\nfor line in sys.stdin: print(line.strip()[::-1], flush=True)"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
p.stdin.write("abc\n")
print("stream", p.stdout.readline().strip())
p.stdin.write("xyz\n")
print("stream", p.stdout.readline().strip())
p.stdin.close()
print("stream end", p.wait())
p = subprocess.Popen([py, "-c", "while True: pass"])
try:
    p.wait(timeout=0.2)
except subprocess.TimeoutExpired:
    print("timeout", p.poll())
p.kill()
print("killed", p.wait())
nested = "import subprocess, sys; print(subprocess.check_output([sys.executable, '-c', 'print(1 + 1)'], text=True).strip())"
print("nested", subprocess.check_output([py, "-c", nested], text=True).strip())
cwd = subprocess.check_output([py, "-c", "import os; print(os.getcwd())"], cwd="/tmp", text=True)
print("cwd", cwd.strip())
env = subprocess.check_output([py, "-c", "import os; print(os.environ['WASIPY_T'])"], env={"WASIPY_T": "e1"}, text=True)
print("env", env.strip())
print("system", os.system(f"{py} -c \"import sys; sys.exit(3)\"") >> 8)
with open(sys.argv[1], "w") as f:
    subprocess.run([py, "-c", "print('to a file')"], stdout=f)
print("file", open(sys.argv[1]).read().strip())
"#;

#[test]
fn child_interpreters_behave_like_subprocesses() {
    let venv = TestVenv::new();
    let file = venv.tmp.path().join("out.txt");
    let out = run_ok(
        venv.python()
            .args(["-c", CHILDREN])
            .arg(&file)
            .env("PYTHONUNBUFFERED", "1"),
    );
    let expected = "run '42\\n' 0\nexit 7\ncheck 2\ninput b'ABC'\nmerged ['e', 'o']\n\
                    devnull None\nstream cba\nstream zyx\nstream end 0\ntimeout None\n\
                    killed -9\nnested 2\ncwd /tmp\nenv e1\nsystem 3\nfile to a file\n";
    assert_eq!(out, expected);
}

#[test]
fn host_programs_are_refused_promptly_with_the_reason() {
    let venv = TestVenv::new();
    let code = r#"
import os, subprocess
for cmd in (["git", "--version"], ["/bin/sh", "-c", "true"], "ls | wc -l"):
    try:
        subprocess.run(cmd, shell=isinstance(cmd, str))
    except FileNotFoundError as e:
        print(type(e).__name__, "WASI cannot run host programs" in str(e))
print(os.system("git status") >> 8)
"#;
    let start = Instant::now();
    let out = venv.python().args(["-c", code]).output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(
        stdout(&out),
        "FileNotFoundError True\nFileNotFoundError True\nFileNotFoundError True\n127\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn console_scripts_of_the_venv_run_as_children() {
    let venv = TestVenv::new();
    let script = venv.bin("hello-tool");
    std::fs::write(
        &script,
        format!(
            "#!{}\nimport sys\nprint('tool', sys.argv[1:])\n",
            venv.bin("python").display()
        ),
    )
    .unwrap();
    let code = format!(
        "import subprocess\nprint(subprocess.check_output([{:?}, 'a b'], text=True), end='')",
        script.to_str().unwrap()
    );
    let out = run_ok(venv.python().args(["-c", &code]));
    assert_eq!(out, "tool ['a b']\n");
}

#[test]
fn pip_builds_sdists_and_editable_installs() {
    let venv = TestVenv::new_with_pip();
    let cache = tempfile::tempdir().unwrap();
    let pip = |args: &[&str]| {
        let mut cmd = venv.python();
        cmd.args(["-m", "pip"])
            .args(args)
            .env("PIP_CACHE_DIR", cache.path())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        cmd
    };
    let out = run_ok(&mut pip(&["install", "--no-binary", ":all:", "six"]));
    assert!(out.contains("Building wheel for six"), "{out}");
    run_ok(venv.python().args(["-c", "import six"]));

    for (backend, requires) in [
        ("hatchling.build", "hatchling"),
        ("setuptools.build_meta", "setuptools>=64"),
    ] {
        let name = backend.split('.').next().unwrap();
        let project = venv.tmp.path().join(format!("proj_{name}"));
        let package = project.join(format!("pkg_{name}"));
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(
            project.join("pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"{requires}\"]\nbuild-backend = \"{backend}\"\n\n\
                 [project]\nname = \"pkg-{name}\"\nversion = \"0.1.0\"\n"
            ),
        )
        .unwrap();
        let init = package.join("__init__.py");
        std::fs::write(&init, "VALUE = 1\n").unwrap();
        run_ok(pip(&["install", "-e", "."]).current_dir(&project));
        let check = format!("import pkg_{name}; print(pkg_{name}.VALUE)");
        assert_eq!(run_ok(venv.python().args(["-c", &check])), "1\n");
        std::fs::write(&init, "VALUE = 2\n").unwrap();
        assert_eq!(
            run_ok(venv.python().args(["-c", &check])),
            "2\n",
            "{backend}"
        );
    }
}
