//! An editor's test run: the editor makes a FIFO, names it in `TEST_RUN_PIPE`, and runs its
//! helper (from its own directory, outside the venv) with the venv's python; the helper runs
//! pytest in-process and writes `Content-Length`-framed JSON-RPC messages to the FIFO, which
//! the editor reads. Discovery, a run with one failing test, and a reader that opens late.

mod common;

use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What VS Code's pytest adapter does, reduced: a plugin reporting over the pipe.
const ADAPTER: &str = r#"
"""Runs pytest with a plugin that reports to the pipe named by TEST_RUN_PIPE."""
import json, os, sys
import pytest


class Reporter:
    def __init__(self):
        self.pipe = open(os.environ["TEST_RUN_PIPE"], "w", encoding="utf-8")

    def send(self, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "report", "params": params})
        self.pipe.write(f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n{body}")
        self.pipe.flush()

    def pytest_collection_finish(self, session):
        if session.config.option.collectonly:
            self.send({"kind": "discovery", "tests": [item.nodeid for item in session.items]})

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.send({"kind": "execution", "test": report.nodeid, "outcome": report.outcome})

    def pytest_sessionfinish(self, session, exitstatus):
        self.send({"kind": "done", "exit": int(exitstatus)})
        self.pipe.close()


sys.exit(pytest.main(sys.argv[1:], plugins=[Reporter()]))
"#;

const TESTS: &str = "def test_adds():\n    assert 1 + 1 == 2\n\n\
                     def test_breaks():\n    assert 1 + 1 == 3\n";

/// Splits `Content-Length`-framed messages.
fn messages(mut data: &[u8]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let text = String::from_utf8_lossy(data);
        let end = text.find("\r\n\r\n").expect("a header ends") + 4;
        let length: usize = text[..end]
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("Content-Length")
            .trim()
            .parse()
            .unwrap();
        out.push(serde_json::from_slice(&data[end..end + length]).unwrap());
        data = &data[end + length..];
    }
    out
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs the adapter with `args` in `project`, the editor reading the FIFO (opening it after
/// `reader_delay`); returns the messages and the adapter's exit code.
fn run_adapter(
    venv: &TestVenv,
    project: &Path,
    args: &[&str],
    reader_delay: Duration,
) -> (Vec<serde_json::Value>, Option<i32>) {
    let editor = tempfile::tempdir().unwrap();
    let adapter = editor.path().join("adapter.py");
    std::fs::write(&adapter, ADAPTER).unwrap();
    let pipe: PathBuf = editor.path().join("run-pipe");
    mkfifo(&pipe);
    let child = venv
        .python()
        .arg(&adapter)
        .args(args)
        .current_dir(project)
        .env("TEST_RUN_PIPE", &pipe)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(reader_delay);
    let mut data = Vec::new();
    std::fs::File::open(&pipe)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let code = child.wait_with_output().unwrap().status.code();
    (messages(&data), code)
}

#[test]
fn an_editor_discovers_and_runs_tests_through_its_fifo() {
    let venv = TestVenv::new_with_pip();
    run_ok(venv.python().args(["-m", "pip", "install", "-q", "pytest"]));
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("test_math.py"), TESTS).unwrap();

    let (found, code) = run_adapter(
        &venv,
        project.path(),
        &["--collect-only", "-q"],
        Duration::ZERO,
    );
    assert_eq!(code, Some(0), "{found:?}");
    assert_eq!(found[0]["params"]["kind"], "discovery");
    assert_eq!(
        found[0]["params"]["tests"],
        serde_json::json!(["test_math.py::test_adds", "test_math.py::test_breaks"])
    );

    for delay in [Duration::ZERO, Duration::from_millis(1500)] {
        let (ran, code) = run_adapter(&venv, project.path(), &["-q"], delay);
        assert_eq!(code, Some(1), "one test fails: {ran:?}");
        let outcomes: Vec<(String, String)> = ran
            .iter()
            .filter(|m| m["params"]["kind"] == "execution")
            .map(|m| {
                let p = &m["params"];
                (
                    p["test"].as_str().unwrap().into(),
                    p["outcome"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                ("test_math.py::test_adds".to_owned(), "passed".to_owned()),
                ("test_math.py::test_breaks".to_owned(), "failed".to_owned()),
            ],
            "reader after {delay:?}"
        );
        assert_eq!(ran.last().unwrap()["params"]["exit"], 1);
    }
}
