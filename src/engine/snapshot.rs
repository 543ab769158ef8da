//! Start-up snapshots: making one from a runtime's `python-preinit.wasm` (built by `scripts/build-runtime` from
//! `scripts/preinit.c`) with wasmtime's Wizer.
//!
//! The snapshot holds CPython's core initialisation and the frozen stdlib modules every
//! start imports; everything a process can change (argv, environment, paths, stdio, `site`)
//! is read when it resumes. What the core phase decides for good (hash seed, allocator,
//! UTF-8 mode and locale coercion, which modules are imported and how verbosely) is why some
//! runs start cold instead: see [`crate::guest::cmdline::Cmdline::may_resume`].

use crate::runtime::{Installed, PREINIT_FILE};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wizer::{InstanceState, ModuleContext, SnapshotVal, ValType, Wizer};

/// The preinit module's export that initialises the interpreter's core and returns (run once, by Wizer).
const INIT_EXPORT: &str = "wasipy.preinit";
/// The snapshot's entry point: CPython's main phase and `Py_RunMain`, with this process's
/// argv and environment.
pub const RESUME_EXPORT: &str = "wasipy.resume";

/// Frozen stdlib modules every `python -c`, `python FILE` and `python -m MOD` start in a
/// venv imports (`os` brings `stat`, `_collections_abc`, `posixpath` and `genericpath`).
/// Not `codecs` or `encodings`: the codec registry they fill is made in the main phase.
const PREIMPORTS: &[&str] = &["abc", "io", "os", "_sitebuiltins"];

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
        let stdlib = runtime.stdlib_mount()?.guest;
        let preinit = runtime.dir.join(PREINIT_FILE);
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
    capture(&wizer, &cx, &mut store, instance).map_err(fail)
}

/// Wizer's new module from an instance of its instrumented module, initialised by the
/// caller (also `wasipy pack`'s embedded filesystem).
pub fn capture(
    wizer: &Wizer,
    cx: &ModuleContext<'_>,
    store: &mut Store<WasiP1Ctx>,
    instance: wasmtime::Instance,
) -> Result<Vec<u8>, String> {
    let mut state = State { store, instance };
    wasmtime_wasi::runtime::in_tokio(wizer.snapshot(cx, &mut state)).map_err(|e| e.to_string())
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
