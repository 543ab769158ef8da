//! Embedded wasmtime: how its engines are configured, the compiled code cache
//! ([`cache`]), start-up snapshots ([`snapshot`]) and running guests ([`run`]).
//!
//! It applies what the layers below decided: a [`crate::guest::Guest`] (argv, env,
//! mounts), a [`crate::runtime::Installed`], and the [`EngineSettings`] read at the entry
//! point.

pub mod cache;
pub mod reactor;
pub mod run;
pub mod snapshot;

pub use crate::settings::EngineSettings;
use crate::{fsio, runtime};
use std::path::PathBuf;
use wasmtime::{Config, Engine, OptLevel, Strategy, WasmBacktraceDetails};

/// CPython wants a deep wasm stack; the guest thread's native stack must exceed it.
const MAX_WASM_STACK: usize = 32 << 20;

/// Which code a compiled module holds. A first run cannot wait for Cranelift (5-10 s for
/// CPython on two cores), so it runs Winch's baseline code, compiled about 4x faster and
/// running about 1.9x slower, while a background process compiles the optimised code that
/// every later run loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Quick,
    Optimized,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuring wasmtime failed: {0}")]
    Config(String),
    #[error("`{path}` is not a WebAssembly module wasmtime can compile: {reason}; run `wasipy runtime install --force {id}`")]
    Compile {
        id: String,
        path: PathBuf,
        reason: String,
    },
    #[error(transparent)]
    Read(fsio::PathError),
    #[error(transparent)]
    Runtime(#[from] runtime::Error),
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    #[error("cannot map `{host}` into the guest as `{guest}`: {reason}")]
    Mount {
        host: PathBuf,
        guest: String,
        reason: String,
    },
    #[error("{0}; point WASIPY_CACHE_DIR at a writable directory")]
    Cache(fsio::PathError),
    #[error("starting the guest failed: {0}")]
    Instantiate(String),
    #[error("python.wasm trapped: {message}")]
    Trap { message: String, exit_code: i32 },
}

impl Error {
    /// The process exit code for this error: a trap mimics the signal a native crash dies of.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Trap { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }
}

/// The engine that compiles and runs `tier`'s code, configured identically on every run
/// so cached artifacts stay valid.
pub fn engine_for(tier: Tier, settings: &EngineSettings) -> Result<Engine, Error> {
    let mut config = Config::new();
    if tier == Tier::Quick {
        config.strategy(Strategy::Winch);
    }
    config.max_wasm_stack(MAX_WASM_STACK);
    // wasmtime checks this bound even though the guest runs synchronously.
    config.async_stack_size(MAX_WASM_STACK + (1 << 20));
    // Set explicitly: `WASMTIME_BACKTRACE_DETAILS` in the environment would otherwise change
    // the tunables and invalidate every cached artifact.
    config.wasm_backtrace_details(WasmBacktraceDetails::Disable);
    config.cranelift_opt_level(OptLevel::Speed);
    // No epoch checks: they cost 18% of guest CPU time. A busy guest asked to stop is
    // abandoned after STOP_GRACE instead (see `crate::stop`).
    config.epoch_interruption(false);
    // For `perf record`: names the guest's functions in `/tmp/perf-PID.map`.
    if settings.perfmap {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config).map_err(|e| Error::Config(e.to_string()))
}
