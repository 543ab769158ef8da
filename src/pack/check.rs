//! `wasipy pack --check`: the packed module run by wasipy's engine as a stock host would run
//! it: its arguments, this process's stdio, and nothing else (no directories, no
//! environment, no bridge), so a file the app needs but the module lacks fails here.

use crate::engine::{self, EngineSettings, Tier};
use wasmtime::{Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::WasiCtxBuilder;

/// The guest thread's native stack: above the engine's wasm stack limit.
const THREAD_STACK: usize = 64 << 20;

/// Runs `wasm` with `args` (its `argv[0]` first) and returns its exit status.
pub fn run(wasm: &[u8], args: &[String], settings: &EngineSettings) -> Result<i32, String> {
    let engine = engine::engine_for(Tier::Quick, settings).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    let wasi = WasiCtxBuilder::new().args(args).inherit_stdio().build_p1();
    let mut store = Store::new(&engine, wasi);
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |wasi| wasi).map_err(|e| e.to_string())?;
    let run = move || -> Result<i32, String> {
        let instance = linker
            .instantiate(&mut store, &module)
            .map_err(|e| e.to_string())?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .map_err(|e| e.to_string())?;
        match start.call(&mut store, ()) {
            Ok(()) => Ok(0),
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(format!("the packed module trapped: {e:?}")),
            },
        }
    };
    std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(run)
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the guest thread panicked".to_owned())?
}
