//! `wasipy pack` as a user meets it: an app using rich, attrs and a data file of its own,
//! installed in a venv on the default runtime (the one with an embedded filesystem),
//! packed, then run with no access to the venv by three hosts (wasipy's engine with no
//! mappings, the `wasmtime` package from the index, node's WASI) with the same output as in
//! the venv; a `[project.scripts]` entry packed from a project; and what a packed module
//! cannot do or hold, refused clearly.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `wasmtime` Python package used as a foreign host, pinned.
const WASMTIME_PY: &str = "wasmtime==50.0.1";

const APP: &str = r#""""Planets from a data file of its own, as attrs records in a rich table."""
import json
import sys
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table


@attrs.define
class Planet:
    name: str
    moons: int


def main(argv):
    data = json.loads((Path(__file__).parent / "data" / "planets.json").read_text())
    planets = sorted((Planet(**p) for p in data), key=lambda p: -p.moons)
    table = Table(title="Planets")
    table.add_column("name")
    table.add_column("moons", justify="right")
    for planet in planets:
        table.add_row(planet.name, str(planet.moons))
    Console(width=40, color_system=None).print(table)
    print("args:", argv[1:], "stdin:", sys.stdin.read().strip())
    return len(planets)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
"#;

const PLANETS: &str = r#"[{"name": "Mars", "moons": 2}, {"name": "Jupiter", "moons": 95}, {"name": "Earth", "moons": 1}]"#;

const NODE_RUNNER: &str = r#"// A stock host: node's WASI with no preopens and no environment.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, exit } from "node:process";
const wasi = new WASI({ version: "preview1", args: argv.slice(2), env: {}, preopens: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(argv[2]));
exit(wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject())));
"#;

const WASMTIME_RUNNER: &str = r#""""A stock host: the wasmtime package, its WASI with no preopens and no environment."""
import sys
from wasmtime import Config, Engine, ExitTrap, Linker, Module, Store, WasiConfig

config = Config()
config.cache = True
engine = Engine(config)
wasi = WasiConfig()
wasi.argv = sys.argv[1:]
wasi.inherit_stdin()
wasi.inherit_stdout()
wasi.inherit_stderr()
store = Store(engine)
store.set_wasi(wasi)
linker = Linker(engine)
linker.define_wasi()
instance = linker.instantiate(store, Module.from_file(engine, sys.argv[1]))
try:
    instance.exports(store)["_start"](store)
except ExitTrap as exit:
    sys.exit(exit.code)
"#;

/// One venv on the default runtime with rich and attrs, and the app beside it.
struct Fixture {
    tmp: tempfile::TempDir,
    venv: PathBuf,
    app: PathBuf,
}

/// Held by a test while it packs or changes the fixture's venv (a pack copies
/// site-packages; a pip install meanwhile would be half-seen).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().join(".venv");
        let (id, _) = default_runtime();
        run_ok(wasipy().arg("venv").arg(&venv).args(["--runtime", &id]));
        run_ok(python(&venv).args(["-m", "pip", "install", "-q", "rich", "attrs"]));
        let app = tmp.path().join("app");
        std::fs::create_dir_all(app.join("data")).unwrap();
        std::fs::write(app.join("main.py"), APP).unwrap();
        std::fs::write(app.join("data/planets.json"), PLANETS).unwrap();
        Fixture { tmp, venv, app }
    })
}

/// `wasipy pack ARGS` run in `dir`, packing the fixture's venv.
fn pack(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = wasipy();
    cmd.current_dir(dir)
        .arg("pack")
        .arg("--venv")
        .arg(&fixture().venv)
        .args(args)
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// The `wasmtime` package, installed once from the index for the host's python3.
fn wasmtime_py() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-py");
        if !dir.join("wasmtime").is_dir() {
            run_ok(
                Command::new("python3")
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "--disable-pip-version-check",
                        "--target",
                    ])
                    .arg(&dir)
                    .arg(WASMTIME_PY),
            );
        }
        dir
    })
}

/// `wasm ARGS` under each foreign host (and the guest's status), with `stdin` as input.
fn foreign_runs(
    dir: &Path,
    wasm: &Path,
    args: &[&str],
    stdin: &[u8],
) -> Vec<(&'static str, Output)> {
    std::fs::write(dir.join("run.mjs"), NODE_RUNNER).unwrap();
    std::fs::write(dir.join("run_wasmtime.py"), WASMTIME_RUNNER).unwrap();
    let mut node = Command::new("node");
    node.current_dir(dir)
        .args(["--no-warnings", "run.mjs"])
        .arg(wasm)
        .args(args);
    let mut wasmtime = Command::new("python3");
    wasmtime
        .current_dir(dir)
        .env("PYTHONPATH", wasmtime_py())
        .arg("run_wasmtime.py")
        .arg(wasm)
        .args(args);
    vec![
        ("node", output_with_stdin(&mut node, stdin)),
        ("wasmtime-py", output_with_stdin(&mut wasmtime, stdin)),
    ]
}

#[test]
fn a_packed_app_runs_the_same_on_every_host_without_the_venv() {
    let _turn = turn();
    let fx = fixture();
    let native = output_with_stdin(
        python(&fx.venv)
            .arg(fx.app.join("main.py"))
            .args(["one", "two words"]),
        b"piped\n",
    );
    assert_eq!(native.status.code(), Some(3), "{}", stderr(&native));
    assert!(
        stdout(&native).contains("│ Jupiter │    95 │"),
        "{}",
        stdout(&native)
    );

    let out_dir = tempfile::tempdir().unwrap();
    let wasm = out_dir.path().join("planets.wasm");
    let checked = output_with_stdin(
        pack(fx.tmp.path(), &["app/main.py", "-o"])
            .arg(&wasm)
            .args(["--check", "--", "one", "two words"]),
        b"piped\n",
    );
    assert_eq!(checked.status.code(), Some(3), "{}", stderr(&checked));
    assert_eq!(stdout(&checked), stdout(&native));
    let said = stderr(&checked);
    assert!(
        said.contains("runs as: /usr/local/bin/python3.12 /app/main.pyc"),
        "{said}"
    );
    assert!(
        said.contains("checked") && said.contains("exit status 3"),
        "{said}"
    );

    // The venv is gone: nothing but the module is left to run.
    let moved = out_dir.path().join("moved.wasm");
    std::fs::rename(&wasm, &moved).unwrap();
    for (host, out) in foreign_runs(out_dir.path(), &moved, &["one", "two words"], b"piped\n") {
        assert_eq!(out.status.code(), Some(3), "{host}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&native), "{host}");
    }
}

/// --strip-stdlib: the planets app (rich pulls in much of the stdlib) still runs the same,
/// from a smaller module; what nothing imports is gone, `--keep-stdlib` brings it back.
#[test]
fn the_stdlib_is_stripped_to_what_the_packed_code_imports() {
    let _turn = turn();
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.wasm");
    run_ok(pack(fx.tmp.path(), &["app/main.py", "-o"]).arg(&full));
    let slim = dir.path().join("slim.wasm");
    let checked = output_with_stdin(
        pack(fx.tmp.path(), &["app/main.py", "--strip-stdlib", "-o"])
            .arg(&slim)
            .args(["--check", "--", "one"]),
        b"in\n",
    );
    assert_eq!(checked.status.code(), Some(3), "{}", stderr(&checked));
    assert!(stdout(&checked).contains("│ Jupiter │    95 │"));
    assert!(stdout(&checked).ends_with("args: ['one'] stdin: in\n"));
    assert!(
        stderr(&checked).contains("Stdlib: kept "),
        "{}",
        stderr(&checked)
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&slim) + 500_000 < size(&full),
        "{} vs {}",
        size(&slim),
        size(&full)
    );
    let node = foreign_runs(dir.path(), &slim, &["one"], b"in\n").swap_remove(0);
    assert_eq!(node.0, "node");
    assert_eq!(stdout(&node.1), stdout(&checked));

    // A bare venv: nothing installed imports pydoc (rich.markdown's `__main__` block does).
    let bare = dir.path().join("bare");
    let (id, _) = default_runtime();
    run_ok(
        wasipy()
            .arg("venv")
            .arg(&bare)
            .args(["--without-pip", "--runtime", &id]),
    );
    let probe = "import importlib.util, json\n\
                 print([importlib.util.find_spec(m) is not None for m in ('json', 'xmlrpc', 'pydoc')])\n";
    let app = dir.path().join("probe");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("probe.py"), probe).unwrap();
    let strip = |extra: &[&str]| {
        wasipy()
            .current_dir(&app)
            .args(["pack", "probe.py", "--strip-stdlib", "--check", "--venv"])
            .arg(&bare)
            .args(extra)
            .output()
            .unwrap()
    };
    for (extra, want) in [
        (&[][..], "[True, False, False]\n"),
        (
            &["--keep-stdlib", "xmlrpc.client"][..],
            "[True, True, False]\n",
        ),
        (&["--keep-stdlib", "pydoc"][..], "[True, False, True]\n"),
    ] {
        let out = strip(extra);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), want, "{extra:?}");
    }
    let out = strip(&["--keep-stdlib", "xmlrpc.clien", "--keep-stdlib", "rich"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "wasipy: error: --keep-stdlib xmlrpc.clien, rich: not a module of this runtime's stdlib; \
         name one as `import` does (xmlrpc.client)"
    );
    let out = wasipy()
        .current_dir(&app)
        .args(["pack", "probe.py", "--keep-stdlib", "json", "--venv"])
        .arg(&bare)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_project_scripts_entry_is_packed_from_the_project() {
    let _turn = turn();
    let fx = fixture();
    let project = fx.tmp.path().join("greet-project");
    std::fs::create_dir_all(project.join("src/greet")).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core>=3.9,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
         [project]\nname = \"greet-tool\"\nversion = \"0.1.0\"\ndescription = \"Greets\"\n\
         dependencies = [\"attrs\"]\n\n[project.scripts]\ngreet = \"greet.cli:main\"\n\n\
         [tool.flit.module]\nname = \"greet\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/greet/__init__.py"),
        "\"\"\"Greets.\"\"\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/greet/cli.py"),
        "import sys\nimport attrs\n\n@attrs.frozen\nclass Greeting:\n    who: str\n\n\
         def main():\n    print('hello', Greeting(' '.join(sys.argv[1:])).who, 'as', sys.argv[0])\n    return 7\n",
    )
    .unwrap();
    // Not installed yet: refused, saying how to install it.
    let out = pack(&project, &["--entry", "greet", "-o", "greet.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("greet-tool is not installed")
            && stderr(&out).contains("pip install ."),
        "{}",
        stderr(&out)
    );
    let out = pack(&project, &["--entry", "nope"]).output().unwrap();
    assert!(
        stderr(&out).contains("no [project.scripts] entry `nope` (it has: greet)"),
        "{}",
        stderr(&out)
    );

    run_ok(
        python(&fx.venv)
            .current_dir(&project)
            .args(["-m", "pip", "install", "-q", "."]),
    );
    let out = pack(
        &project,
        &["--entry", "greet", "--check", "--", "packed", "world"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello packed world as /app/greet\n");
    let wasm = project.join("greet.wasm");
    for (host, out) in foreign_runs(&project, &wasm, &["from", "a", "host"], b"") {
        assert_eq!(out.status.code(), Some(7), "{host}: {}", stderr(&out));
        assert_eq!(stdout(&out), "hello from a host as /app/greet\n", "{host}");
    }
}

#[test]
fn what_a_foreign_host_lacks_fails_as_cpython_says_and_no_shim_is_packed() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("probe.py"),
        r#"import os, socket, subprocess, sys, urllib.request
def attempt(label, call):
    try:
        call()
        print(label, "ok")
    except OSError as exc:
        print(label, type(exc).__name__, exc.errno, exc)
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("urlopen", lambda: urllib.request.urlopen("http://127.0.0.1:9/"))
attempt("socket", lambda: socket.socket())
attempt("subprocess", lambda: subprocess.run([sys.executable, "-c", "pass"]))
attempt("write", lambda: open("/app/new.txt", "w"))
site = [p for p in sys.path if p.endswith("site-packages")][0]
print(sorted(n for n in os.listdir(site) if n.startswith(("_wasipy", "pip"))))
print(sorted(m for m in sys.modules if m.startswith("_wasipy")))
"#,
    )
    .unwrap();
    let out = pack(dir.path(), &["probe.py", "--check"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    let why = "this WASI host gives Python no network (a packed module has no wasipy bridge)";
    assert_eq!(lines[0], format!("connect OSError 58 [Errno 58] {why}"));
    assert_eq!(
        lines[1],
        format!("urlopen URLError None <urlopen error [Errno 58] {why}>")
    );
    assert_eq!(lines[2], "socket OSError 58 [Errno 58] Not supported");
    assert_eq!(
        lines[3],
        "subprocess OSError 58 [Errno 58] wasi does not support processes."
    );
    assert!(
        lines[4].starts_with("write FileNotFoundError 44"),
        "{}",
        lines[4]
    );
    assert_eq!(lines[5], "['_wasipy_packed.pth', '_wasipy_packed.pyc']");
    assert_eq!(lines[6], "['_wasipy_packed']");
}

#[test]
fn bytecode_only_unless_sources_are_kept() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("boom.py"),
        "import sys\n\ndef f():\n    raise ValueError('boom')  # the line\n\nf()\n",
    )
    .unwrap();
    let out = pack(dir.path(), &["boom.py", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("File \"/app/boom.py\", line 4, in f") && said.contains("ValueError: boom"),
        "{said}"
    );
    assert!(!said.contains("# the line"), "{said}");
    let small = std::fs::metadata(dir.path().join("boom.wasm"))
        .unwrap()
        .len();

    let out = pack(
        dir.path(),
        &["boom.py", "--keep-source", "-o", "src.wasm", "--check"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("raise ValueError('boom')  # the line"),
        "{}",
        stderr(&out)
    );
    let big = std::fs::metadata(dir.path().join("src.wasm"))
        .unwrap()
        .len();
    assert!(
        big > small + 1_000_000,
        "sources add megabytes: {big} vs {small}"
    );
}

#[test]
fn code_outside_the_venv_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join(".venv");
    let (id, _) = default_runtime();
    run_ok(wasipy().arg("venv").arg(&venv).args(["--runtime", &id]));
    std::fs::write(dir.path().join("app.py"), "print('hi')\n").unwrap();
    let site = venv.join("lib/python3.12/site-packages");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(
        site.join("extra.pth"),
        format!("# added by hand\n{}\n", outside.display()),
    )
    .unwrap();
    let packing = |cmd: &mut Command| {
        cmd.current_dir(dir.path())
            .args(["pack", "app.py", "--venv", ".venv"])
            .output()
            .unwrap()
    };
    let out = packing(&mut wasipy());
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains(&site.join("extra.pth").display().to_string())
            && said.contains(&outside.display().to_string()),
        "{said}"
    );
    assert_eq!(said.lines().count(), 1, "{said}");
    std::fs::remove_file(site.join("extra.pth")).unwrap();

    let project = dir.path().join("proj");
    std::fs::create_dir_all(project.join("edit_me")).unwrap();
    std::fs::write(project.join("edit_me/__init__.py"), "").unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core>=3.9,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\
         [project]\nname = \"edit-me\"\nversion = \"1.0\"\ndescription = \"x\"\n",
    )
    .unwrap();
    run_ok(
        python(&venv)
            .current_dir(&project)
            .args(["-m", "pip", "install", "-q", "-e", "."]),
    );
    let out = packing(&mut wasipy());
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("edit_me-1.0 is an editable install") && said.contains("without -e"),
        "{said}"
    );
    assert!(!dir.path().join("app.wasm").exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with(".wasipy-pack")),
        "{left:?}"
    );
}

#[test]
fn bad_arguments_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasipy()
        .current_dir(dir.path())
        .args(["pack", "missing.py"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`missing.py` is not a file"),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.path().join("a.py"), "").unwrap();
    let out = wasipy()
        .current_dir(dir.path())
        .env_remove("VIRTUAL_ENV")
        .args(["pack", "a.py"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "`{}` is not a wasipy venv; name one with --venv",
            dir.path().join(".venv").display()
        )),
        "{}",
        stderr(&out)
    );
    let out = wasipy().args(["pack"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}

#[test]
fn a_module_in_the_working_directory_is_packed_for_dash_m() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tool")).unwrap();
    std::fs::write(dir.path().join("tool/__init__.py"), "").unwrap();
    std::fs::write(
        dir.path().join("tool/__main__.py"),
        "import sys\nfrom rich.text import Text\nprint(Text('ran').plain, __name__, sys.argv[1:])\n",
    )
    .unwrap();
    let native = run_ok(
        python(&fixture().venv)
            .current_dir(dir.path())
            .args(["-m", "tool", "a"]),
    );
    assert_eq!(native, "ran __main__ ['a']\n");
    let out = pack(dir.path(), &["-m", "tool", "--check", "--", "a"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), native);
    assert!(
        stderr(&out).contains("runs as: /usr/local/bin/python3.12 -m tool"),
        "{}",
        stderr(&out)
    );
    let (host, node) =
        foreign_runs(dir.path(), &dir.path().join("tool.wasm"), &["a"], b"").remove(0);
    assert_eq!(stdout(&node), native, "{host}: {}", stderr(&node));
}
