//! What a guest is: the argv, environment, mounts and bridge settings of one CPython-WASI
//! run, as plain data, and the pure functions that work them out from a command line.
//!
//! Nothing here runs wasm: the engine applies a [`Guest`] in one place.

pub mod cmdline;
pub mod host;
pub mod limits;
pub mod mounts;
pub mod network;
pub mod plan;
pub mod sandbox;
pub mod stdio;

use mounts::Mount;
use std::path::PathBuf;

/// Private variables for the guest shim (`shims/_wasipy_shim.py`), which removes them: the
/// host's working directory, the script as typed, and [`host::facts`].
pub const CWD_VAR: &str = "__WASIPY_CWD";
pub const SCRIPT_VAR: &str = "__WASIPY_SCRIPT";
pub const HOST_VAR: &str = "__WASIPY_HOST";
/// The prefix of every private variable: never taken from the host's environment.
pub const PRIVATE_PREFIX: &str = "__WASIPY_";

/// What one guest run sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guest {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Preopened directories, in order (wasmtime-wasi numbers them from fd 3).
    pub mounts: Vec<Mount>,
    pub bridge: Option<BridgeConfig>,
    /// Whether this run may resume a start-up snapshot: nothing on its command line or in
    /// its environment asks for what the snapshot's core phase decided otherwise.
    pub may_resume: bool,
    /// What this run and its children may consume.
    pub limits: limits::Limits,
}

/// What a run's host bridge needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The empty host directory behind the bridge's guest directory.
    pub host_dir: PathBuf,
    /// Which hosts guest code may reach.
    pub network: network::Policy,
    /// Guest directories the runtime's embedded filesystem owns (no host path behind them).
    pub shadowed: Vec<String>,
    /// A sandboxed guest: its sockets may bind to loopback addresses only.
    pub sandboxed: bool,
}
