//! The stdlib a guest has: sqlite3 writing files the host's sqlite3 reads, the modules a
//! built runtime must have (pure-Python ones importable even where they cannot start
//! anything), and the errors for what WASI cannot do.

mod common;

use common::*;
use std::process::Command;

/// The database a guest writes is an ordinary SQLite file: the host's `sqlite3` reads it,
/// the guest reads what the host adds, and no lock is left behind.
#[test]
fn sqlite3_files_are_shared_with_the_host() {
    ensure_runtime();
    let venv = TestVenv::new();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("shop.db");
    let code = "import sqlite3, sys\n\
                con = sqlite3.connect(sys.argv[1])\n\
                con.execute('create table item(name text, price real)')\n\
                con.executemany('insert into item values (?, ?)', [('pen', 1.5), ('ink', 4.25), ('pad', 2.0)])\n\
                con.commit()\n\
                print(con.execute('select count(*), sum(price) from item').fetchone())\n\
                con.close()\n";
    let out = run_ok(venv.python().args(["-c", code]).arg(&db));
    assert_eq!(out, "(3, 7.75)\n");
    let host = |sql: &str| {
        let out = Command::new("sqlite3").arg(&db).arg(sql).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        host("select name from item order by price desc;"),
        "ink\npad\npen\n"
    );
    assert_eq!(host("pragma integrity_check;"), "ok\n");
    host("insert into item values ('nib', 0.5);");
    let read = "import sqlite3, sys\n\
                con = sqlite3.connect(sys.argv[1])\n\
                print(con.execute('select count(*) from item').fetchone()[0])\n\
                print(con.execute('pragma journal_mode').fetchone()[0])\n";
    let out = run_ok(venv.python().args(["-c", read]).arg(&db));
    assert_eq!(out, "4\ndelete\n");
    let mut left: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["shop.db"]);
}

/// A runtime built by `scripts/build-runtime` has the whole stdlib: the C modules, and the
/// pure-Python ones that cannot start anything in WASI but must import.
#[test]
fn a_built_runtime_has_the_whole_stdlib() {
    ensure_runtime();
    let preinit = shared_home().join(format!("runtimes/{}/python-preinit.wasm", runtime().id));
    if !preinit.is_file() {
        eprintln!(
            "skipped: runtime {} was not built by scripts/build-runtime",
            runtime().id
        );
        return;
    }
    let venv = TestVenv::new();
    let code = "import bz2, concurrent.futures.thread, decimal, lzma, multiprocessing, pyexpat, sqlite3, zlib\n\
                data = b'wasipy ' * 1000\n\
                for m in (bz2, lzma, zlib):\n    assert m.decompress(m.compress(data)) == data, m\n\
                print(decimal.Decimal(1) / decimal.Decimal(7))\n\
                p = pyexpat.ParserCreate(); seen = []\n\
                p.StartElementHandler = lambda name, attrs: seen.append(name)\n\
                p.Parse('<a><b/></a>', True); print(seen)\n\
                from concurrent.futures import ThreadPoolExecutor; print(ThreadPoolExecutor.__name__)\n";
    let out = run_ok(venv.python().args(["-c", code]));
    assert_eq!(
        out,
        "0.1428571428571428571428571429\n['a', 'b']\nThreadPoolExecutor\n"
    );
}

/// What WASI cannot do fails as CPython fails for an unsupported operation, saying why:
/// a thread, a multiprocessing process, ctypes.
#[test]
fn threads_processes_and_ctypes_say_why_they_cannot_start() {
    ensure_runtime();
    let venv = TestVenv::new();
    let code = "import errno, threading\n\
                try:\n    threading.Thread(target=print).start()\nexcept RuntimeError as e:\n    print('thread:', e)\n\
                try:\n    import multiprocessing\n    multiprocessing.Process(target=print).start()\n\
                except ModuleNotFoundError as e:\n    print('process: no multiprocessing module')\n\
                except OSError as e:\n    print('process:', errno.errorcode[e.errno], e.strerror.split(',')[0])\n\
                try:\n    import ctypes\nexcept ModuleNotFoundError as e:\n    print('ctypes:', e.name, str(e).split(':')[1].split(',')[0].strip())\n";
    let out = run_ok(venv.python().args(["-c", code]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("thread: can't start new thread: this CPython runs on WASI preview 1"),
        "{out}"
    );
    if runtime_has_multiprocessing() {
        assert_eq!(
            lines[1],
            "process: ENOSYS multiprocessing cannot start a process on WASI"
        );
    }
    assert_eq!(
        lines[2],
        "ctypes: _ctypes ctypes loads and calls native code"
    );
}

fn runtime_has_multiprocessing() -> bool {
    let venv = TestVenv::new();
    let out = venv
        .python()
        .args(["-c", "import multiprocessing"])
        .output()
        .unwrap();
    out.status.success()
}
