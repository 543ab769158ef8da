//! Embedded wasmtime: engine settings, the compiled-module cache (keyed by runtime SHA-256 and
//! the engine's compatibility hash, loaded by mmap) with its two tiers (a quick first compile,
//! the optimised one in the background) and the start-up snapshot beside them, and running
//! one guest to its exit code.

use crate::bridge::{self, Bridge};
use crate::mounts::{Access, Mount};
use crate::runtime::{self, Installed};
use crate::snapshot;
use std::hash::{Hash, Hasher};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, Linker, Module, OptLevel, Store, Strategy, Trap, WasmBacktraceDetails,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// CPython wants a deep wasm stack; the guest thread's native stack must exceed it.
const MAX_WASM_STACK: usize = 32 << 20;
const GUEST_THREAD_STACK: usize = MAX_WASM_STACK + (32 << 20);
/// `WASIPY_LOG=debug` prints where start-up time goes.
pub const LOG_VAR: &str = "WASIPY_LOG";
/// Set (to anything) to profile the guest with `perf` (see the README's Benchmarks).
pub const PERFMAP_VAR: &str = "WASIPY_PERFMAP";
/// `WASIPY_COMPILE=foreground`: a first run compiles the optimised module itself and waits
/// for it, instead of starting on the quick one.
pub const COMPILE_VAR: &str = "WASIPY_COMPILE";
/// `WASIPY_SNAPSHOT=off`: every guest starts the interpreter afresh, as on runtimes without
/// a start-up snapshot (to rule the snapshot out when something behaves oddly).
pub const SNAPSHOT_VAR: &str = "WASIPY_SNAPSHOT";

/// Which code a compiled module holds. A first run cannot wait for Cranelift (5-10 s for
/// CPython on two cores), so it runs Winch's baseline code, compiled about 4x faster and
/// running about 1.9x slower, while a background process compiles the optimised code that
/// every later run loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
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
    #[error("cannot read runtime file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
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
    #[error("cannot write the compiled module to `{path}`: {source}; point WASIPY_CACHE_DIR at a writable directory")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
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

/// Set by SIGINT: guests stop at their next host call, and the launcher ends the process
/// after [`STOP_GRACE`] if the main guest is still computing.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// How long a guest asked to stop (Ctrl-C, `Popen.kill()`) gets to reach a host call and end
/// by itself before it is abandoned: wasm code has no cheap way to be stopped from outside
/// (wasmtime's epoch checks would, but cost 18% of all guest CPU time).
pub const STOP_GRACE: Duration = Duration::from_millis(300);
/// The exit code of an interrupted python, as CPython's for an unhandled KeyboardInterrupt.
pub const INTERRUPTED_EXIT: i32 = 130;
/// What [`run_guest`] returns for a guest stopped by its kill flag.
pub const KILLED: i32 = -1;

/// Ctrl-C cannot become a KeyboardInterrupt inside WASI; it stops the guest (exit 130).
/// A second Ctrl-C exits at once, in case the guest is stuck in a host call.
pub fn handle_sigint() {
    extern "C" fn on_sigint(_: libc::c_int) {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(INTERRUPTED_EXIT) };
        }
    }
    // SAFETY: installs a handler that only touches an atomic; no SA_RESTART, so a blocked
    // read returns EINTR and the guest reaches its next host call, where the flag is seen.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Whether SIGINT arrived (host code that waits checks this).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error that stops a guest now, if SIGINT arrived or its kill flag is set; host calls
/// that block (sleeps) return it to end the guest as promptly as wasm code would.
pub fn stop_requested(kill: Option<&AtomicBool>) -> Option<wasmtime::Error> {
    if interrupted() {
        return Some(wasmtime::Error::new(Stopped::Interrupted));
    }
    kill.filter(|k| k.load(Ordering::SeqCst))
        .map(|_| wasmtime::Error::new(Stopped::Killed))
}

/// Why a guest was stopped from outside.
#[derive(Debug)]
enum Stopped {
    Interrupted,
    Killed,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Stopped {}

/// How a guest's standard streams are connected.
#[derive(Default)]
pub enum Input {
    #[default]
    Inherit,
    Null,
    Pipe(std::fs::File),
}

#[derive(Default, Clone)]
pub enum Output {
    #[default]
    Inherit,
    Null,
    Pipe(wasmtime_wasi::cli::OutputFile),
}

#[derive(Default)]
pub struct Stdio {
    pub stdin: Input,
    pub stdout: Output,
    pub stderr: Output,
}

/// The guest's `proc_exit`, carried out of wasm as an error.
#[derive(Debug)]
struct GuestExit(i32);

impl std::fmt::Display for GuestExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest exited with {}", self.0)
    }
}

impl std::error::Error for GuestExit {}

/// What one guest run sees: its argv, environment, preopened directories and bridge.
#[derive(Debug, Clone, Default)]
pub struct Guest {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub bridge: Option<bridge::Config>,
}

/// The store's state: the WASI context and the host bridge beside it.
struct Host {
    wasi: WasiP1Ctx,
    bridge: Bridge,
}

fn host_parts(host: &mut Host) -> (&mut WasiP1Ctx, &mut Bridge) {
    (&mut host.wasi, &mut host.bridge)
}

/// Prints a phase timing when `WASIPY_LOG=debug`.
pub struct Timer {
    start: Instant,
    enabled: bool,
}

impl Timer {
    pub fn from_env() -> Self {
        let enabled = std::env::var(LOG_VAR).is_ok_and(|v| v == "debug");
        Self {
            start: Instant::now(),
            enabled,
        }
    }

    /// A timer that prints nothing (child interpreters).
    pub fn off() -> Self {
        Self {
            start: Instant::now(),
            enabled: false,
        }
    }

    pub fn mark(&self, what: &str) {
        if self.enabled {
            eprintln!(
                "wasipy: {:>8.2} ms {what}",
                self.start.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

/// The optimised engine, configured identically on every run so cached artifacts stay valid.
fn engine() -> Result<Engine, Error> {
    engine_for(Tier::Optimized)
}

/// The engine that compiles `tier`'s code.
fn engine_for(tier: Tier) -> Result<Engine, Error> {
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
    // abandoned after STOP_GRACE instead (see `run` and `bridge::proc`).
    config.epoch_interruption(false);
    // For `perf record`: names the guest's functions in `/tmp/perf-PID.map`.
    if std::env::var_os(PERFMAP_VAR).is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config).map_err(|e| Error::Config(e.to_string()))
}

/// Where the compiled form of `runtime` lives for this engine.
fn cache_path(engine: &Engine, runtime: &Installed, cache_dir: &Path, tier: Tier) -> PathBuf {
    let suffix = match tier {
        Tier::Quick => "-quick",
        Tier::Optimized => "",
    };
    cache_file(engine, runtime, cache_dir, suffix)
}

/// Where the compiled start-up snapshot made from `source` lives (optimised code only).
fn snapshot_cache_path(
    engine: &Engine,
    runtime: &Installed,
    cache_dir: &Path,
    source: &snapshot::Source,
) -> PathBuf {
    let suffix = format!("-{:016x}-snapshot", source.key);
    cache_file(engine, runtime, cache_dir, &suffix)
}

fn cache_file(engine: &Engine, runtime: &Installed, cache_dir: &Path, suffix: &str) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let sha = &runtime.manifest.sha256;
    cache_dir.join("compiled").join(format!(
        "{}-{:016x}{suffix}.cwasm",
        &sha[..sha.len().min(32)],
        hasher.finish()
    ))
}

/// The compiled code guests of one runtime run: the start-up snapshot if one is cached,
/// and the interpreter itself, loaded when a guest cannot resume the snapshot.
pub struct Code {
    snapshot: Option<(Engine, Module)>,
    interpreter: OnceLock<(Engine, Module)>,
    runtime: Installed,
    cache_dir: PathBuf,
}

impl Code {
    /// The engine and module `guest` starts from.
    fn for_guest(&self, guest: &Guest, timer: &Timer) -> Result<(Engine, Module), Error> {
        if let Some(snapshot) = &self.snapshot {
            if snapshot::allowed(guest.argv.get(1..).unwrap_or_default(), &guest.env) {
                return Ok(snapshot.clone());
            }
            timer.mark("this run cannot resume the snapshot");
        }
        if let Some(loaded) = self.interpreter.get() {
            return Ok(loaded.clone());
        }
        let loaded = load_interpreter(&self.runtime, &self.cache_dir, timer)?;
        Ok(self.interpreter.get_or_init(|| loaded).clone())
    }
}

/// The code a run uses: the snapshot if it is cached. Otherwise the interpreter: the
/// optimised module if it is cached; else the quick one (compiled now if need be) while a
/// background `wasipy runtime compile` produces the optimised one and the snapshot. With
/// `WASIPY_COMPILE=foreground`, both now.
pub fn load(runtime: &Installed, cache_dir: &Path, timer: &Timer) -> Result<Arc<Code>, Error> {
    let optimized = engine()?;
    let mut code = Code {
        snapshot: None,
        interpreter: OnceLock::new(),
        runtime: runtime.clone(),
        cache_dir: cache_dir.to_owned(),
    };
    let snapshot_path =
        snapshot_source(runtime).map(|s| snapshot_cache_path(&optimized, runtime, cache_dir, &s));
    if let Some(module) = snapshot_path.as_deref().and_then(|p| cached(&optimized, p)) {
        timer.mark("compiled snapshot loaded from cache");
        code.snapshot = Some((optimized, module));
        return Ok(Arc::new(code));
    }
    let loaded = load_interpreter(runtime, cache_dir, timer)?;
    code.interpreter.get_or_init(|| loaded);
    if let Some(path) = snapshot_path {
        code.snapshot = missing_snapshot(&optimized, runtime, cache_dir, &path, timer);
    }
    Ok(Arc::new(code))
}

/// A snapshot not in the cache (a first run, or a runtime installed before wasipy made
/// snapshots): made now with `WASIPY_COMPILE=foreground`, else by a background compile.
/// After a failed attempt (its reason is kept beside the cache file) neither is tried.
fn missing_snapshot(
    engine: &Engine,
    runtime: &Installed,
    cache_dir: &Path,
    path: &Path,
    timer: &Timer,
) -> Option<(Engine, Module)> {
    if failure_note(path).exists() {
        return None;
    }
    if !foreground() {
        let interpreter = cache_path(engine, runtime, cache_dir, Tier::Optimized);
        compile_in_background(runtime, &interpreter);
        return None;
    }
    match make_snapshot(engine, runtime, cache_dir) {
        Ok(()) => {
            timer.mark("snapshot made");
            cached(engine, path).map(|module| (engine.clone(), module))
        }
        Err(err) => {
            // python still runs, afresh; said once, as the failure is not retried.
            eprintln!("wasipy: warning: {err}");
            None
        }
    }
}

/// Where a runtime's start-up snapshot stands (for `wasipy doctor`).
pub enum SnapshotState {
    /// The runtime ships no preinit module (or `WASIPY_SNAPSHOT=off`).
    None,
    Ready(PathBuf),
    /// Not made yet: the next run's background compile makes it.
    Pending,
    /// The reason kept beside the cache file.
    Failed(String),
}

pub fn snapshot_state(runtime: &Installed, cache_dir: &Path) -> Result<SnapshotState, Error> {
    let Some(source) = snapshot_source(runtime) else {
        return Ok(SnapshotState::None);
    };
    let engine = engine()?;
    let path = snapshot_cache_path(&engine, runtime, cache_dir, &source);
    if cached(&engine, &path).is_some() {
        return Ok(SnapshotState::Ready(path));
    }
    Ok(match std::fs::read_to_string(failure_note(&path)) {
        Ok(reason) => SnapshotState::Failed(reason),
        Err(_) => SnapshotState::Pending,
    })
}

/// Beside a snapshot's cache file: why making it failed (runs then stop asking for it).
fn failure_note(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("failed")
}

/// The runtime's snapshot source, unless it has none or `WASIPY_SNAPSHOT=off`.
fn snapshot_source(runtime: &Installed) -> Option<snapshot::Source> {
    let off = std::env::var(SNAPSHOT_VAR).is_ok_and(|v| v == "off");
    snapshot::Source::of(runtime).filter(|_| !off)
}

/// `WASIPY_COMPILE=foreground`: compile what is missing now rather than in the background.
fn foreground() -> bool {
    std::env::var(COMPILE_VAR).is_ok_and(|v| v == "foreground")
}

/// The interpreter's engine and module (see [`load`]).
fn load_interpreter(
    runtime: &Installed,
    cache_dir: &Path,
    timer: &Timer,
) -> Result<(Engine, Module), Error> {
    let optimized = engine()?;
    let path = cache_path(&optimized, runtime, cache_dir, Tier::Optimized);
    if let Some(module) = cached(&optimized, &path) {
        timer.mark("compiled module loaded from cache");
        return Ok((optimized, module));
    }
    if foreground() {
        let module = load_module(&optimized, runtime, &path, Tier::Optimized, timer)?;
        return Ok((optimized, module));
    }
    let quick = engine_for(Tier::Quick)?;
    let quick_path = cache_path(&quick, runtime, cache_dir, Tier::Quick);
    let module = load_module(&quick, runtime, &quick_path, Tier::Quick, timer)?;
    compile_in_background(runtime, &path);
    Ok((quick, module))
}

/// The module cached at `path`, if it is there and usable.
fn cached(engine: &Engine, path: &Path) -> Option<Module> {
    // SAFETY: the file was written by `precompile_module` of an engine with the same
    // compatibility hash (part of its name) and replaced only by rename; wasmtime checks
    // its header and version and we recompile on any error.
    path.is_file()
        .then(|| unsafe { Module::deserialize_file(engine, path) }.ok())
        .flatten()
}

/// Loads `tier`'s module from the cache file `path`, compiling it (once) on a miss or when
/// the cached file is unusable (truncated, other wasmtime version).
fn load_module(
    engine: &Engine,
    runtime: &Installed,
    path: &Path,
    tier: Tier,
    timer: &Timer,
) -> Result<Module, Error> {
    if let Some(module) = cached(engine, path) {
        timer.mark(&format!("compiled module ({tier:?}) loaded from cache"));
        return Ok(module);
    }
    // One process compiles; others starting at the same time wait for its file.
    let _lock = compile_lock(path, true);
    if let Some(module) = cached(engine, path) {
        timer.mark(&format!(
            "compiled module ({tier:?}) loaded from cache (after waiting)"
        ));
        return Ok(module);
    }
    let serialized = compile(engine, runtime, tier)?;
    timer.mark(&format!("module compiled ({tier:?})"));
    match write_atomically(path, &serialized) {
        // SAFETY: as in `cached`; the file was just produced by this engine.
        Ok(()) => unsafe { Module::deserialize_file(engine, path) },
        // An unwritable cache costs a compile per run but must not stop python.
        Err(_) => unsafe { Module::deserialize(engine, &serialized) },
    }
    .map_err(|e| Error::Compile {
        id: runtime.manifest.id.clone(),
        path: runtime.wasm.clone(),
        reason: e.to_string(),
    })
}

/// Compiles the optimised module into the cache now (`wasipy runtime compile`); returns
/// false if another process is compiling it already.
pub fn compile_optimized(runtime: &Installed, cache_dir: &Path) -> Result<bool, Error> {
    let engine = engine()?;
    let path = cache_path(&engine, runtime, cache_dir, Tier::Optimized);
    // An unwritable cache is an error here, not "someone else holds the lock".
    let dir = path.parent().unwrap_or(cache_dir);
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let Some(_lock) = compile_lock(&path, false) else {
        return Ok(false);
    };
    if cached(&engine, &path).is_none() {
        let serialized = compile(&engine, runtime, Tier::Optimized)?;
        write_atomically(&path, &serialized).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    make_snapshot(&engine, runtime, cache_dir)?;
    Ok(true)
}

/// Makes and compiles the start-up snapshot into the cache, if the runtime ships a
/// preinit module and has an on-disk stdlib, and it is not there yet. A failure is
/// recorded beside it (runs then stop asking for it) and returned.
fn make_snapshot(engine: &Engine, runtime: &Installed, cache_dir: &Path) -> Result<(), Error> {
    let Some(source) = snapshot_source(runtime) else {
        return Ok(());
    };
    let path = snapshot_cache_path(engine, runtime, cache_dir, &source);
    if cached(engine, &path).is_some() {
        return Ok(());
    }
    let id = &runtime.manifest.id;
    let made = snapshot::make(&engine_for(Tier::Quick)?, id, &source)
        .map_err(Error::from)
        .and_then(|wasm| {
            engine.precompile_module(&wasm).map_err(|e| Error::Compile {
                id: id.clone(),
                path: source.preinit.clone(),
                reason: e.to_string(),
            })
        });
    let failed = failure_note(&path);
    match made {
        Ok(serialized) => {
            let _ = std::fs::remove_file(&failed);
            write_atomically(&path, &serialized).map_err(|source| Error::Write { path, source })
        }
        Err(err) => {
            let _ = write_atomically(&failed, err.to_string().as_bytes());
            Err(err)
        }
    }
}

/// Starts `wasipy runtime compile` for `runtime` as a detached, lower-priority process,
/// unless one is compiling already (it holds the lock beside `path`). Failing to start
/// one only means the next run tries again.
fn compile_in_background(runtime: &Installed, path: &Path) {
    use std::os::unix::process::CommandExt;
    // One per process: a first run asks for both the optimised module and the snapshot,
    // and the child may not hold the lock yet when the second ask comes.
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) || compile_lock(path, false).is_none() {
        return;
    }
    let (Ok(exe), Some(store)) = (std::env::current_exe(), runtime.dir.parent()) else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg0("wasipy")
        .args(["runtime", "compile", "--quiet", "--store"])
        .arg(store)
        .arg(&runtime.manifest.id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group: Ctrl-C in the terminal is for python, not for it.
        .process_group(0);
    // SAFETY: nice(2) is async-signal-safe; it only lowers this child's priority, so the
    // compile yields the CPU to the python runs it is working for.
    unsafe {
        command.pre_exec(|| {
            libc::nice(10);
            Ok(())
        });
    }
    // It may outlive this python (then init reaps it); a thread reaps it if this python is
    // still running when it ends, so a long run leaves no zombie behind.
    if let Ok(mut child) = command.spawn() {
        let _ = std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || child.wait());
    }
}

/// An exclusive lock beside the cache file, held until dropped. Without `wait`, None if
/// another process holds it; with `wait`, None only if locking is not possible (then
/// processes just compile in parallel, which is also correct).
fn compile_lock(path: &Path, wait: bool) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(path.parent()?).ok()?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.with_extension("lock"))
        .ok()?;
    let mode = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    (unsafe { libc::flock(lock.as_raw_fd(), mode) } == 0).then_some(lock)
}

fn compile(engine: &Engine, runtime: &Installed, tier: Tier) -> Result<Vec<u8>, Error> {
    let id = &runtime.manifest.id;
    let bytes = std::fs::read(&runtime.wasm).map_err(|source| Error::Read {
        path: runtime.wasm.clone(),
        source,
    })?;
    // The bytes are in memory anyway: check them against the pin before trusting them.
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if actual != runtime.manifest.sha256 {
        return Err(runtime::Error::HashMismatch {
            id: id.clone(),
            path: runtime.wasm.clone(),
            expected: runtime.manifest.sha256.clone(),
            actual,
        }
        .into());
    }
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        let later = match tier {
            Tier::Quick => "; the optimised build follows in the background",
            Tier::Optimized => "",
        };
        bar.set_message(format!(
            "wasipy: compiling runtime {id} for this machine (first run only{later})"
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let result = engine
        .precompile_module(&bytes)
        .map_err(|e| Error::Compile {
            id: id.clone(),
            path: runtime.wasm.clone(),
            reason: e.to_string(),
        });
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    result
}

/// Writes `bytes` to a temp file beside `path`, then renames it over `path`: concurrent
/// first runs each produce a complete file and the last rename wins.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Runs the guest to completion on a thread with a large native stack; returns its exit code.
/// After Ctrl-C, a guest that has not ended within [`STOP_GRACE`] (busy in wasm code) is
/// left behind: the exit code is [`INTERRUPTED_EXIT`] and the process is about to end.
pub fn run(code: &Arc<Code>, guest: Guest, timer: &Timer) -> Result<i32, Error> {
    let code = code.clone();
    let (start, enabled) = (timer.start, timer.enabled);
    let (done, result) = std::sync::mpsc::channel();
    guest_thread("python.wasm".into(), move || {
        let timer = Timer { start, enabled };
        let _ = done.send(run_guest(&code, &guest, Stdio::default(), None, &timer));
    })?;
    let mut interrupted_at = None;
    loop {
        match result.recv_timeout(Duration::from_millis(50)) {
            Ok(outcome) => return outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Instantiate("the guest thread panicked".into()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if interrupted() => {
                let since = *interrupted_at.get_or_insert_with(Instant::now);
                if since.elapsed() >= STOP_GRACE {
                    return Ok(INTERRUPTED_EXIT);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Runs a guest with stdin closed and its stdout captured; returns (exit code, stdout).
pub fn capture(code: &Arc<Code>, guest: Guest) -> Result<(i32, Vec<u8>), Error> {
    use std::io::Read;
    let (mut reader, writer) = pipe().map_err(|e| Error::Instantiate(e.to_string()))?;
    let stdio = Stdio {
        stdin: Input::Null,
        stdout: Output::Pipe(wasmtime_wasi::cli::OutputFile::new(writer)),
        stderr: Output::Inherit,
    };
    let code = code.clone();
    let handle = guest_thread("python.wasm probe".into(), move || {
        run_guest(&code, &guest, stdio, None, &Timer::off())
    })?;
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out); // ends when the guest's store drops the writer
    Ok((join(handle)?, out))
}

/// Starts `f` on a thread whose native stack is big enough for a guest.
pub fn guest_thread<R: Send + 'static>(
    name: String,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<std::thread::JoinHandle<R>, Error> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(GUEST_THREAD_STACK)
        .spawn(f)
        .map_err(|e| Error::Instantiate(format!("cannot start the guest thread: {e}")))
}

fn join(handle: std::thread::JoinHandle<Result<i32, Error>>) -> Result<i32, Error> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Instantiate("the guest thread panicked".into())))
}

/// An OS pipe as (reading end, writing end).
pub fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    let (reader, writer) = std::io::pipe()?;
    Ok((
        std::os::fd::OwnedFd::from(reader).into(),
        std::os::fd::OwnedFd::from(writer).into(),
    ))
}

/// Runs a guest on the current thread (which needs a [`GUEST_THREAD_STACK`]-sized stack)
/// with the given stdio; `kill` stops it from another thread ([`KILLED`] is returned).
pub fn run_guest(
    code: &Arc<Code>,
    guest: &Guest,
    stdio: Stdio,
    kill: Option<Arc<AtomicBool>>,
    timer: &Timer,
) -> Result<i32, Error> {
    let (engine, module) = code.for_guest(guest, timer)?;
    let (engine, module) = (&engine, &module);
    let spawner = Arc::new(bridge::proc::Spawner {
        code: code.clone(),
        guest: guest.clone(),
    });
    let (wasi, bridge) = wasi_context(guest, stdio, spawner)?;
    let bridge = bridge.with_kill(kill.clone());
    let mut store = Store::new(engine, Host { wasi, bridge });
    let mut linker: Linker<Host> = Linker::new(engine);
    let setup = |e: wasmtime::Error| Error::Instantiate(e.to_string());
    p1::add_to_linker_sync(&mut linker, |host: &mut Host| &mut host.wasi).map_err(setup)?;
    shadow_proc_exit(&mut linker).map_err(setup)?;
    // Every guest, bridged or not (probes of `runtime add`): the shadows also serve sleeps
    // and directory listings, and see Ctrl-C.
    bridge::wasi::shadow(&mut linker, host_parts).map_err(setup)?;
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(|e| Error::Instantiate(e.to_string()))?;
    // A snapshot resumes the interpreter its module holds; the interpreter starts afresh.
    let entry = match module.get_export(snapshot::RESUME_EXPORT) {
        Some(_) => snapshot::RESUME_EXPORT,
        None => "_start",
    };
    let start = instance
        .get_typed_func::<(), ()>(&mut store, entry)
        .map_err(|e| Error::Instantiate(e.to_string()))?;
    timer.mark("instantiated; entering python");
    let result = start.call(&mut store, ());
    timer.mark("python returned");
    match result {
        Ok(()) => Ok(0),
        Err(err) => exit_code_of(err),
    }
}

/// Applies argv, environment, stdio and mounts to a WASI preview 1 context, and sets up the
/// bridge's private preopen after the guest's mounts.
fn wasi_context(
    guest: &Guest,
    stdio: Stdio,
    spawner: Arc<bridge::proc::Spawner>,
) -> Result<(WasiP1Ctx, Bridge), Error> {
    let mut builder = WasiCtxBuilder::new();
    // Must precede the preopens: each preopened dir captures this setting.
    builder.allow_blocking_current_thread(true);
    match stdio.stdin {
        Input::Inherit => builder.inherit_stdin(),
        Input::Null => builder.stdin(std::io::empty()),
        Input::Pipe(file) => builder.stdin(wasmtime_wasi::cli::InputFile::new(file)),
    };
    match stdio.stdout {
        Output::Inherit => builder.inherit_stdout(),
        Output::Null => builder.stdout(std::io::empty()),
        Output::Pipe(file) => builder.stdout(file),
    };
    match stdio.stderr {
        Output::Inherit => builder.inherit_stderr(),
        Output::Null => builder.stderr(std::io::empty()),
        Output::Pipe(file) => builder.stderr(file),
    };
    builder.args(&guest.argv);
    for (key, value) in &guest.env {
        builder.env(key, value);
    }
    for mount in &guest.mounts {
        preopen(&mut builder, mount)?;
    }
    let bridge = match &guest.bridge {
        Some(config) => {
            let mount = Mount {
                host: config.host_dir.clone(),
                guest: bridge::GUEST_DIR.to_owned(),
                access: Access::ReadOnly,
            };
            let _ = std::fs::create_dir_all(&mount.host);
            preopen(&mut builder, &mount)?;
            // wasmtime-wasi numbers preopens from 3 in the order they were added.
            let fd = 3 + guest.mounts.len() as u32;
            Bridge::new(Some(fd), config.network.clone(), config.fs.clone()).with_spawner(spawner)
        }
        None => Bridge::new(None, bridge::net::Policy::Off, Default::default()),
    };
    Ok((builder.build_p1(), bridge))
}

fn preopen(builder: &mut WasiCtxBuilder, mount: &Mount) -> Result<(), Error> {
    let perms = match mount.access {
        Access::ReadOnly => FsPerms::ReadOnly,
        Access::ReadWrite => FsPerms::ReadWrite,
    };
    builder
        .preopened_dir(&mount.host, &mount.guest, perms)
        .map(|_| ())
        .map_err(|e| Error::Mount {
            host: mount.host.clone(),
            guest: mount.guest.clone(),
            reason: e.to_string(),
        })
}

/// wasmtime-wasi refuses exit codes >= 126 (they come back as a trap); CPython uses them
/// (`sys.exit(200)`), so `proc_exit` is replaced by one that carries any code out.
fn shadow_proc_exit(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "proc_exit",
        |code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(GuestExit(code))) },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn exit_code_of(err: wasmtime::Error) -> Result<i32, Error> {
    if let Some(GuestExit(code)) = err.downcast_ref::<GuestExit>() {
        return Ok(*code & 0xff);
    }
    if let Some(wasmtime_wasi::I32Exit(code)) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Ok(*code & 0xff);
    }
    match err.downcast_ref::<Stopped>() {
        Some(Stopped::Interrupted) => return Ok(INTERRUPTED_EXIT),
        Some(Stopped::Killed) => return Ok(KILLED),
        None => {}
    }
    let (message, exit_code) = match err.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => (
            "the wasm stack overflowed (runaway recursion in C code)".to_owned(),
            139,
        ),
        Some(Trap::MemoryOutOfBounds) => (
            "out-of-bounds memory access; with this runtime that is usually its small C stack \
             overflowing (deep Python -> C -> Python recursion)"
                .to_owned(),
            139,
        ),
        Some(Trap::UnreachableCodeReached) => (
            "the interpreter aborted (abort() or a fatal error)".to_owned(),
            134,
        ),
        Some(trap) => (trap.to_string(), 134),
        None => (format!("{err:#}"), 1),
    };
    Err(Error::Trap { message, exit_code })
}
