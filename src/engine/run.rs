//! Running guests: the WASI context a [`Guest`] describes, the thread a guest runs on, its
//! exit code (from `proc_exit`, a stop or a trap), and child interpreters for the bridge.

use super::cache::Code;
use super::snapshot::RESUME_EXPORT;
use super::{reactor, Error, MAX_WASM_STACK};
use crate::bridge::proc::{Budget, Spawn, Spawner};
use crate::bridge::{self, Bridge};
use crate::guest::mounts::{Access, Mount};
use crate::guest::network::Policy;
use crate::guest::stdio::{self, Input, Output, Stdio};
use crate::guest::Guest;
use crate::runtime::manifest::Reactor;
use crate::stop::{self, Stopped, INTERRUPTED_EXIT, STOP_GRACE};
use crate::timer::Timer;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Linker, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The native stack of a thread that runs a guest: bigger than the wasm stack it may use.
const GUEST_THREAD_STACK: usize = MAX_WASM_STACK + (32 << 20);

/// The guest's `proc_exit`, carried out of wasm as an error.
#[derive(Debug)]
struct GuestExit(i32);

impl std::fmt::Display for GuestExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest exited with {}", self.0)
    }
}

impl std::error::Error for GuestExit {}

/// The store's state: the WASI context, the host bridge beside it, and the memory limit.
struct Host {
    wasi: WasiP1Ctx,
    bridge: Bridge,
    limits: StoreLimits,
}

fn host_parts(host: &mut Host) -> (&mut WasiP1Ctx, &mut Bridge) {
    (&mut host.wasi, &mut host.bridge)
}

/// Runs the guest to completion on a thread with a large native stack; returns its exit
/// code. After Ctrl-C, a guest that has not ended within [`STOP_GRACE`] (busy in wasm code)
/// is left behind: the exit code is [`INTERRUPTED_EXIT`] and the process is about to end.
pub fn run(code: &Arc<Code>, guest: Guest, timer: &Timer) -> Result<i32, Error> {
    let code = code.clone();
    let timer = *timer;
    let (done, result) = std::sync::mpsc::channel();
    guest_thread("python.wasm".into(), move || {
        let budget = Budget::new(&guest.limits);
        let _ = done.send(run_guest(
            &code,
            &guest,
            Stdio::default(),
            None,
            &timer,
            budget,
        ));
    })?;
    let mut interrupted_at = None;
    loop {
        match result.recv_timeout(Duration::from_millis(50)) {
            Ok(outcome) => return outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Instantiate("the guest thread panicked".into()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if stop::interrupted() => {
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
    let (mut reader, writer) = stdio::pipe().map_err(|e| Error::Instantiate(e.to_string()))?;
    let stdio = Stdio {
        stdin: Input::Null,
        stdout: Output::Pipe(wasmtime_wasi::cli::OutputFile::new(writer)),
        stderr: Output::Inherit,
    };
    let code = code.clone();
    let handle = guest_thread("python.wasm probe".into(), move || {
        let budget = Budget::new(&guest.limits);
        run_guest(&code, &guest, stdio, None, &Timer::off(), budget)
    })?;
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out); // ends when the guest's store drops the writer
    let code = handle
        .join()
        .unwrap_or_else(|_| Err(Error::Instantiate("the guest thread panicked".into())))?;
    Ok((code, out))
}

/// Starts `f` on a thread whose native stack is big enough for a guest.
fn guest_thread<R: Send + 'static>(
    name: String,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<std::thread::JoinHandle<R>, Error> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(GUEST_THREAD_STACK)
        .spawn(f)
        .map_err(|e| Error::Instantiate(format!("cannot start the guest thread: {e}")))
}

/// Child interpreters: new instances of the parent's compiled code, within the run's budget.
struct Children {
    code: Arc<Code>,
    budget: Arc<Budget>,
}

impl Spawn for Children {
    fn start(
        &self,
        guest: Guest,
        stdio: Stdio,
        kill: Arc<AtomicBool>,
        done: Box<dyn FnOnce(i32) + Send>,
    ) -> std::io::Result<()> {
        let code = self.code.clone();
        let budget = self.budget.clone();
        guest_thread("python.wasm child".into(), move || {
            let exit = run_guest(&code, &guest, stdio, Some(kill), &Timer::off(), budget)
                .unwrap_or_else(|err| {
                    eprintln!("wasipy: {err}");
                    err.exit_code()
                });
            done(exit);
        })
        .map(drop)
        .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// Runs a guest on the current thread (which needs a [`GUEST_THREAD_STACK`]-sized stack)
/// with the given stdio; `kill` stops it from another thread ([`stop::KILLED`] is
/// returned). Its children count against `budget`.
fn run_guest(
    code: &Arc<Code>,
    guest: &Guest,
    stdio: Stdio,
    kill: Option<Arc<AtomicBool>>,
    timer: &Timer,
    budget: Arc<Budget>,
) -> Result<i32, Error> {
    let (engine, module) = code.for_guest(guest, timer)?;
    let spawner = Spawner {
        spawn: Arc::new(Children {
            code: code.clone(),
            budget: budget.clone(),
        }),
        parent: guest.clone(),
        budget,
    };
    let reactor = code.reactor();
    let (wasi, bridge) = wasi_context(
        guest,
        reactor.map(|r| (r, code.minor_version())),
        stdio,
        spawner,
    )?;
    let bridge = bridge.with_kill(kill);
    // A `memory.grow` past the limit fails (-1): malloc returns NULL, CPython raises
    // MemoryError, and the guest goes on.
    let limits = StoreLimitsBuilder::new()
        .memory_size(usize::try_from(guest.limits.memory).unwrap_or(usize::MAX))
        .build();
    let mut store = Store::new(
        &engine,
        Host {
            wasi,
            bridge,
            limits,
        },
    );
    store.limiter(|host| &mut host.limits);
    let mut linker: Linker<Host> = Linker::new(&engine);
    let setup = |e: wasmtime::Error| Error::Instantiate(e.to_string());
    p1::add_to_linker_sync(&mut linker, |host: &mut Host| &mut host.wasi).map_err(setup)?;
    shadow_proc_exit(&mut linker).map_err(setup)?;
    // Every guest, bridged or not (probes of `runtime add`): the shadows also serve sleeps
    // and directory listings, and see Ctrl-C.
    bridge::wasi::shadow(&mut linker, host_parts).map_err(setup)?;
    if let Some(reactor) = reactor {
        reactor::link_host_imports(&mut linker, &module, reactor).map_err(setup)?;
    }
    let instance = linker.instantiate(&mut store, &module).map_err(setup)?;
    timer.mark("instantiated; entering python");
    let result = match reactor {
        Some(reactor) => {
            let program = reactor::Program::find(&mut store, &instance, reactor).map_err(setup)?;
            program.run(&mut store)
        }
        None => {
            // A snapshot resumes the interpreter its module holds; the interpreter starts
            // afresh at `_start`.
            let entry = match module.get_export(RESUME_EXPORT) {
                Some(_) => RESUME_EXPORT,
                None => "_start",
            };
            let start = instance
                .get_typed_func::<(), ()>(&mut store, entry)
                .map_err(setup)?;
            start.call(&mut store, ()).map(|()| 0)
        }
    };
    timer.mark("python returned");
    result.or_else(exit_code_of)
}

/// Applies argv, environment, stdio and mounts to a WASI preview 1 context, and sets up the
/// bridge's private preopen after the guest's mounts.
fn wasi_context(
    guest: &Guest,
    reactor: Option<(&Reactor, &str)>,
    stdio: Stdio,
    spawner: Spawner,
) -> Result<(WasiP1Ctx, Bridge), Error> {
    let mut builder = WasiCtxBuilder::new();
    // Must precede the preopens: each preopened dir captures this setting.
    builder.allow_blocking_current_thread(true);
    connect_stdio(&mut builder, stdio);
    match reactor {
        Some((reactor, minor)) => builder.args(&reactor::argv(reactor, &guest.argv, minor)),
        None => builder.args(&guest.argv),
    };
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
            let fd = bridge::fs::FIRST_PREOPEN + guest.mounts.len() as u32;
            let fs = bridge::fs::Table {
                mounts: guest.mounts.clone(),
                shadowed: config.shadowed.clone(),
            };
            Bridge::new(Some(fd), config.network.clone(), fs)
                .with_sandbox(config.sandboxed)
                .with_spawner(spawner)
                .with_channel_limit(guest.limits.channels)
        }
        None => Bridge::new(None, Policy::Off, Default::default()),
    };
    Ok((builder.build_p1(), bridge))
}

fn connect_stdio(builder: &mut WasiCtxBuilder, stdio: Stdio) {
    match stdio.stdin {
        Input::Inherit => builder.inherit_stdin(),
        Input::Null => builder.stdin(std::io::empty()),
        Input::Pipe(file) => builder.stdin(wasmtime_wasi::cli::InputFile::new(file)),
    };
    for (output, fd) in [(stdio.stdout, 1), (stdio.stderr, 2)] {
        match (output, fd) {
            (Output::Inherit, 1) => builder.inherit_stdout(),
            (Output::Inherit, _) => builder.inherit_stderr(),
            (Output::Null, 1) => builder.stdout(std::io::empty()),
            (Output::Null, _) => builder.stderr(std::io::empty()),
            (Output::Pipe(file), 1) => builder.stdout(file),
            (Output::Pipe(file), _) => builder.stderr(file),
        };
    }
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
    if let Some(stopped) = err.downcast_ref::<Stopped>() {
        return Ok(stopped.exit_code());
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
