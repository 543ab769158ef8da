//! The runtime itself behaves: code that native CPython runs to its end runs to its end, with
//! no WebAssembly trap on the way out (a call through a mistyped function pointer is one).
//! Most telling with `WASIPY_TEST_RUNTIME` set to the runtime `scripts/build-runtime` makes.

mod common;

use common::*;

/// `operator.methodcaller` cleared by the cyclic GC: CPython 3.13.5's `tp_clear` for it
/// returned `void`, an indirect call type mismatch under WebAssembly (build-runtime fixes it).
#[test]
fn the_gc_clears_a_methodcaller_in_a_cycle() {
    let venv = TestVenv::new();
    let code = "import gc, operator\n\
                d = {}\n\
                m = operator.methodcaller('get', d)\n\
                d['m'] = m  # the dict is tracked only now: the GC meets the methodcaller first\n\
                del d, m\n\
                print(gc.collect() > 0)\n";
    assert_eq!(run_ok(venv.python().args(["-c", code])), "True\n");
}

/// What found it: importing sqlalchemy (its pure wheel, from the index) and building a
/// query, then exiting 0.
#[test]
fn sqlalchemy_imports_builds_a_query_and_exits_cleanly() {
    let venv = TestVenv::new_with_pip();
    let cache = tempfile::tempdir().unwrap();
    run_ok(
        venv.python()
            .args(["-m", "pip", "install", "-q", "sqlalchemy"])
            .env("PIP_CACHE_DIR", cache.path())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    let code = "from sqlalchemy import column, select, table\n\
                print(select(table('t', column('a'))).where(column('a') > 1))\n";
    let out = run_ok(venv.python().args(["-c", code]));
    assert_eq!(out, "SELECT t.a \nFROM t \nWHERE a > :a_1\n");
}
