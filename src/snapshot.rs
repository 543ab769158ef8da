//! Start-up snapshots: which runs may resume a pre-initialised interpreter, and making one
//! from a runtime's `python-preinit.wasm` (built by `scripts/build-runtime` from
//! `scripts/preinit.c`) with wasmtime's Wizer.
//!
//! The snapshot holds CPython's core initialisation and the frozen stdlib modules every
//! start imports; everything a process can change (argv, environment, paths, stdio, `site`)
//! is read when it resumes. What the core phase decides for good (hash seed, allocator,
//! UTF-8 mode and locale coercion, which modules are imported and how verbosely) is why some
//! runs start cold instead: see [`allowed`].

use crate::runtime::Installed;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The reactor module a runtime may ship beside `python.wasm`.
pub const PREINIT_WASM: &str = "python-preinit.wasm";
/// Its export that initialises the interpreter's core and returns (run once, by Wizer).
const INIT_EXPORT: &str = "wasipy.preinit";
/// The snapshot's entry point: CPython's main phase and `Py_RunMain`, with this process's
/// argv and environment.
pub const RESUME_EXPORT: &str = "wasipy.resume";

/// Frozen stdlib modules every `python -c`, `python FILE` and `python -m MOD` start in a
/// venv imports (`os` brings `stat`, `_collections_abc`, `posixpath` and `genericpath`).
/// Not `codecs` or `encodings`: the codec registry they fill is made in the main phase.
const PREIMPORTS: &[&str] = &["abc", "io", "os", "_sitebuiltins"];

/// Options decided in the core phase, or whose output covers the imports the snapshot did.
const COLD_OPTIONS: &[char] = &['S', 'v'];
/// `-X` options of that kind.
const COLD_X_OPTIONS: &[&str] = &["importtime", "frozen_modules", "dev", "utf8", "presite"];
/// Variables the core phase reads (CPython ignores them when empty).
const COLD_VARS: &[&str] = &[
    "PYTHONHASHSEED",
    "PYTHONMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONUTF8",
    "PYTHONCOERCECLOCALE",
    "PYTHONDEVMODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONVERBOSE",
    "PYTHONHOME",
    "PYTHONPLATLIBDIR",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read `{path}`: {source}; python starts without a snapshot until runtime {id} is reinstalled")]
    Read {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("making a start-up snapshot from `{path}` failed: {reason}; python starts without one until runtime {id} is reinstalled")]
    Make {
        id: String,
        path: PathBuf,
        reason: String,
    },
}

/// Whether a run with these arguments (after argv[0]) and environment may resume the
/// snapshot: nothing on it may ask for what the snapshot's core phase decided otherwise.
/// The snapshot was made with no environment, where the C library's locale is C.UTF-8.
pub fn allowed(args: &[String], env: &[(String, String)]) -> bool {
    let options = crate::cmdline::short_options(args);
    // -E and -I: CPython ignores the PYTHON* variables (not the locale).
    let ignore_env = options.iter().any(|(flag, _)| matches!(flag, 'E' | 'I'));
    let options_ok = options.into_iter().all(|(flag, value)| match flag {
        'X' => {
            let name = value.unwrap_or("").split('=').next().unwrap_or("");
            !COLD_X_OPTIONS.contains(&name)
        }
        _ => !COLD_OPTIONS.contains(&flag),
    });
    let get = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let vars_ok = ignore_env || COLD_VARS.iter().all(|name| get(name).is_none());
    // CPython coerces a C or POSIX locale and turns on UTF-8 mode; any UTF-8 locale (or
    // none) decides as the snapshot's did, and resume sets LC_CTYPE from the environment.
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"].into_iter().find_map(get);
    let locale_ok = locale.is_none_or(|l| {
        let l = l.to_ascii_lowercase();
        l.ends_with(".utf-8") || l.ends_with(".utf8")
    });
    options_ok && vars_ok && locale_ok
}

/// What a runtime's snapshot is made from: its preinit module and the guest path of its
/// on-disk stdlib (the frozen modules imported take it as their `__file__`'s home).
pub struct Source {
    pub preinit: PathBuf,
    pub stdlib: String,
    /// Changes with the preinit file (a reinstall) and with what wasipy asks of it.
    pub key: u64,
}

impl Source {
    /// The runtime's source, if it ships a preinit module and has an on-disk stdlib.
    pub fn of(runtime: &Installed) -> Option<Self> {
        use std::hash::{Hash, Hasher};
        let stdlib = crate::local::stdlib_mount(&runtime.manifest, &runtime.dir)?.guest;
        let preinit = runtime.dir.join(PREINIT_WASM);
        let meta = std::fs::metadata(&preinit).ok().filter(|m| m.is_file())?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (meta.len(), meta.modified().ok(), PREIMPORTS, &stdlib).hash(&mut hasher);
        Some(Self {
            preinit,
            stdlib,
            key: hasher.finish(),
        })
    }

    fn failed(&self, id: &str, reason: String) -> Error {
        Error::Make {
            id: id.to_owned(),
            path: self.preinit.clone(),
            reason,
        }
    }
}

/// Runs the preinit module's core initialisation under Wizer (compiled by `engine`) and
/// returns the snapshot as a new module's bytes.
pub fn make(engine: &Engine, id: &str, source: &Source) -> Result<Vec<u8>, Error> {
    // Wizer asserts what it expects of a module; a preinit module it did not expect must
    // cost the snapshot (recorded, python runs without it), not the run.
    // (The hook is silenced meanwhile: the reason goes into the error, not to stderr.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let made = std::panic::catch_unwind(AssertUnwindSafe(|| wizen(engine, id, source)));
    std::panic::set_hook(hook);
    made.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("Wizer stopped");
        Err(source.failed(id, what.to_owned()))
    })
}

fn wizen(engine: &Engine, id: &str, source: &Source) -> Result<Vec<u8>, Error> {
    let fail = |reason: String| source.failed(id, reason);
    let wasm = std::fs::read(&source.preinit).map_err(|e| Error::Read {
        id: id.to_owned(),
        path: source.preinit.clone(),
        source: e,
    })?;
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT);
    let (cx, instrumented) = wizer.instrument(&wasm).map_err(|e| fail(e.to_string()))?;
    let module = Module::new(engine, &instrumented).map_err(|e| fail(e.to_string()))?;
    let mut args = vec!["python", source.stdlib.as_str()];
    args.extend(PREIMPORTS);
    // No environment and no directories: the core phase reads neither.
    let wasi = WasiCtxBuilder::new()
        .args(&args)
        .inherit_stderr()
        .build_p1();
    let mut store = Store::new(engine, wasi);
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |wasi| wasi).map_err(|e| fail(e.to_string()))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| fail(e.to_string()))?;
    for export in ["_initialize", INIT_EXPORT] {
        let func = instance
            .get_typed_func::<(), ()>(&mut store, export)
            .map_err(|e| fail(format!("`{export}`: {e}")))?;
        func.call(&mut store, ())
            .map_err(|e| fail(format!("`{export}` trapped: {e}")))?;
    }
    let mut state = State {
        store: &mut store,
        instance,
    };
    wasmtime_wasi::runtime::in_tokio(wizer.snapshot(&cx, &mut state))
        .map_err(|e| fail(e.to_string()))
}

/// The initialised instance, as Wizer reads it.
struct State<'a> {
    store: &'a mut Store<WasiP1Ctx>,
    instance: wasmtime::Instance,
}

impl InstanceState for State<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let global = self.instance.get_global(&mut *self.store, name);
        match global.map(|g| g.get(&mut *self.store)) {
            Some(wasmtime::Val::I32(x)) => SnapshotVal::I32(x),
            Some(wasmtime::Val::I64(x)) => SnapshotVal::I64(x),
            Some(wasmtime::Val::F32(x)) => SnapshotVal::F32(x),
            Some(wasmtime::Val::F64(x)) => SnapshotVal::F64(x),
            Some(wasmtime::Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            // Wizer exported every global it asks for, with these types only.
            _ => unreachable!("Wizer asked for global `{name}`, which is not a number"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        if let Some(memory) = self.instance.get_memory(&mut *self.store, name) {
            contents(memory.data(&*self.store));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    type Vars<'a> = &'a [(&'a str, &'a str)];

    #[test]
    fn resumes_only_what_the_core_phase_decided_the_same() {
        let cases: &[(&[&str], Vars, bool)] = &[
            (&["-c", "pass"], &[], true),
            (&["-m", "pip", "-v"], &[("LANG", "C.UTF-8")], true),
            (
                &["-IuB", "-W", "error", "s.py", "-S"],
                &[("LANG", "en_US.UTF-8")],
                true,
            ),
            (
                &["-X", "int_max_str_digits=0", "-c", "x"],
                &[("PYTHONPATH", "/x")],
                true,
            ),
            (&["-c", "x"], &[("PYTHONHASHSEED", "")], true),
            (&["-I", "-c", "x"], &[("PYTHONHASHSEED", "0")], true),
            (&["-Ec", "x"], &[("PYTHONMALLOC", "malloc")], true),
            (&["-E", "-c", "x"], &[("LANG", "C")], false),
            (&["-S", "-c", "x"], &[], false),
            (&["-Ivc", "x"], &[], false),
            (&["-X", "importtime", "-c", "x"], &[], false),
            (&["-Xfrozen_modules=off", "s.py"], &[], false),
            (&["-X", "dev"], &[], false),
            (&["-c", "x"], &[("PYTHONHASHSEED", "0")], false),
            (&["-c", "x"], &[("PYTHONMALLOC", "malloc")], false),
            (&["-c", "x"], &[("LANG", "C")], false),
            (
                &["-c", "x"],
                &[("LANG", "en_US.UTF-8"), ("LC_ALL", "POSIX")],
                false,
            ),
            (&["-c", "x"], &[("LC_CTYPE", "de_DE.ISO-8859-1")], false),
        ];
        for (args, vars, expected) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(allowed(&args, &env(vars)), *expected, "{args:?} {vars:?}");
        }
    }
}
