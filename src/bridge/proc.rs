//! Child interpreters. WASI preview 1 has no processes, so `subprocess` of this venv's python
//! becomes a new instance of the same compiled module on a host thread, with OS pipes for
//! the streams the parent asked to capture. Captured output is drained into memory as it
//! comes, so a child never blocks on a full pipe while its parent waits.

use super::reply::{Failure, Reply};
use crate::guest::limits::{Limits, KEY_CHILDREN, KEY_CHILDREN_TOTAL};
use crate::guest::stdio::{self, Input, Output, Stdio};
use crate::guest::{host, plan, Guest, HOST_VAR};
use crate::stop;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Child pids are unique within this launcher process (and tell nothing about host pids).
static NEXT_PID: AtomicU32 = AtomicU32::new(1000);
/// How often blocked waits look at SIGINT.
const TICK: Duration = Duration::from_millis(50);

/// Runs child interpreters for the bridge; the engine provides it.
pub trait Spawn: Send + Sync {
    /// Starts `guest` with `stdio` on a thread of its own; it stops at its next host call
    /// once `kill` is set. `done` gets its exit code ([`stop::KILLED`] when killed).
    fn start(
        &self,
        guest: Guest,
        stdio: Stdio,
        kill: Arc<AtomicBool>,
        done: Box<dyn FnOnce(i32) + Send>,
    ) -> std::io::Result<()>;
}

/// What a guest needs to start children: a [`Spawn`], its own description (mounts, bridge
/// settings, limits), which children inherit, and the run's [`Budget`].
#[derive(Clone)]
pub struct Spawner {
    pub spawn: Arc<dyn Spawn>,
    pub parent: Guest,
    pub budget: Arc<Budget>,
}

/// The child interpreters of one run (the launcher's guest and all its descendants share
/// it): how many are alive and how many were started, against the run's limits.
#[derive(Debug)]
pub struct Budget {
    alive: AtomicU32,
    started: AtomicU32,
    max_alive: u32,
    max_started: u32,
}

impl Budget {
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            alive: AtomicU32::new(0),
            started: AtomicU32::new(0),
            max_alive: limits.children_alive,
            max_started: limits.children_total,
        })
    }

    /// Counts a child about to start; `EAGAIN` (what `fork` gives past `RLIMIT_NPROC`) when
    /// either limit is reached.
    fn take(&self) -> Result<(), Failure> {
        let full = |n: u32, max: u32| (n < max).then_some(n + 1);
        if self
            .alive
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                full(n, self.max_alive)
            })
            .is_err()
        {
            let why = format!("{} alive at once, `{KEY_CHILDREN}`", self.max_alive);
            return Err(too_many(&why));
        }
        if self
            .started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                full(n, self.max_started)
            })
            .is_err()
        {
            self.give_back();
            let why = format!("{} in all, `{KEY_CHILDREN_TOTAL}`", self.max_started);
            return Err(too_many(&why));
        }
        Ok(())
    }

    /// A child ended (or never started).
    fn give_back(&self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }

    /// Children alive now.
    pub fn alive(&self) -> u32 {
        self.alive.load(Ordering::SeqCst)
    }
}

fn too_many(why: &str) -> Failure {
    super::errno::os(
        "EAGAIN",
        format!(
            "Resource temporarily unavailable: too many child interpreters ({why} in pyvenv.cfg)"
        ),
    )
}

/// A child's streams as the parent asked for them, with the parent's ends of the pipes.
struct Streams {
    stdio: Stdio,
    stdin: Option<File>,
    captured: [Option<Arc<Captured>>; 2],
}

/// Output captured from a child, filled by a drain thread.
#[derive(Default)]
struct Captured {
    state: Mutex<(VecDeque<u8>, bool)>,
    changed: Condvar,
}

/// A child's exit status, set once by its thread.
#[derive(Default)]
struct Status {
    code: Mutex<Option<i32>>,
    done: Condvar,
}

struct Child {
    status: Arc<Status>,
    kill: Arc<AtomicBool>,
    signal: i32,
    stdin: Option<File>,
    /// stdout, stderr.
    captured: [Option<Arc<Captured>>; 2],
}

/// The children of one guest.
#[derive(Default)]
pub struct Procs {
    spawner: Option<Spawner>,
    children: HashMap<u32, Child>,
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::new("bad_request", message)
}

fn pid_of(meta: &Map<String, Value>) -> Result<u32, Failure> {
    meta.get("pid")
        .and_then(Value::as_u64)
        .map(|p| p as u32)
        .ok_or_else(|| bad("missing `pid`"))
}

/// `timeout` in seconds; absent or null waits forever.
fn deadline(meta: &Map<String, Value>) -> Option<Instant> {
    let secs = meta.get("timeout").and_then(Value::as_f64)?;
    Some(Instant::now() + Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
}

fn pipe() -> Result<(File, File), Failure> {
    stdio::pipe().map_err(|e| Failure::new("os", e.to_string()))
}

/// Copies `reader` into `captured` until the end, on its own thread.
fn drain(mut reader: File) -> Arc<Captured> {
    let captured = Arc::new(Captured::default());
    let sink = captured.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf).unwrap_or(0);
            let mut state = sink.state.lock().expect("capture lock");
            if n == 0 {
                state.1 = true;
            } else {
                state.0.extend(&buf[..n]);
            }
            sink.changed.notify_all();
            if n == 0 {
                break;
            }
        }
    });
    captured
}

impl Procs {
    pub fn new(spawner: Option<Spawner>) -> Self {
        Self {
            spawner,
            children: HashMap::new(),
        }
    }

    fn child(&mut self, meta: &Map<String, Value>) -> Result<&mut Child, Failure> {
        let pid = pid_of(meta)?;
        self.children
            .get_mut(&pid)
            .ok_or_else(|| bad(format!("no child {pid}")))
    }

    /// `proc.spawn`: meta `{exe, argv, cwd, env: [[k, v]], stdin, stdout, stderr}` where
    /// each stream is `inherit`, `null` or `pipe` (stderr also `stdout`); replies `{pid}`.
    pub fn spawn(&mut self, meta: &Map<String, Value>) -> Reply {
        let spawner = self
            .spawner
            .clone()
            .ok_or_else(|| Failure::new("unavailable", "this guest cannot start children"))?;
        let guest = child_guest(&spawner.parent, meta)?;
        let streams = streams(meta)?;
        spawner.budget.take()?;
        let pid = NEXT_PID.fetch_add(1, Ordering::SeqCst);
        let status = Arc::new(Status::default());
        let kill = Arc::new(AtomicBool::new(false));
        let done = status.clone();
        let budget = spawner.budget.clone();
        let on_exit = Box::new(move |code| {
            budget.give_back();
            // A child abandoned by `kill` already has its status.
            done.code.lock().expect("status lock").get_or_insert(code);
            done.done.notify_all();
        });
        if let Err(err) = spawner
            .spawn
            .start(guest, streams.stdio, kill.clone(), on_exit)
        {
            spawner.budget.give_back();
            return Err(super::errno::from_io(&err));
        }
        let child = Child {
            status,
            kill,
            signal: 9,
            stdin: streams.stdin,
            captured: streams.captured,
        };
        self.children.insert(pid, child);
        Ok((json!({ "pid": pid }), Vec::new()))
    }

    /// `proc.write`: meta `{pid}`, body = bytes for the child's stdin.
    pub fn write(&mut self, meta: &Map<String, Value>, body: &[u8]) -> Reply {
        let child = self.child(meta)?;
        let stdin = child
            .stdin
            .as_mut()
            .ok_or_else(|| bad("stdin is not a pipe"))?;
        stdin
            .write_all(body)
            .map_err(|e| super::errno::from_io(&e))?;
        Ok((json!({}), Vec::new()))
    }

    /// `proc.close_stdin`: meta `{pid}`; the child reads end-of-file.
    pub fn close_stdin(&mut self, meta: &Map<String, Value>) -> Reply {
        self.child(meta)?.stdin = None;
        Ok((json!({}), Vec::new()))
    }

    /// `proc.read`: meta `{pid, stream: 1|2, size, timeout}`; waits for at least one byte or the
    /// end, or until `timeout` seconds pass (then nothing, not at the end; `0`: no wait).
    pub fn read(&mut self, meta: &Map<String, Value>) -> Reply {
        let stream = meta.get("stream").and_then(Value::as_u64).unwrap_or(1);
        let size = meta.get("size").and_then(Value::as_u64).unwrap_or(1 << 16) as usize;
        let child = self.child(meta)?;
        let captured = child.captured[(stream == 2) as usize]
            .clone()
            .ok_or_else(|| bad("that stream is not a pipe"))?;
        let ready = |s: &(VecDeque<u8>, bool)| !s.0.is_empty() || s.1;
        let until = deadline(meta);
        let Some(mut state) = wait_until(&captured.state, &captured.changed, ready, until)? else {
            return Ok((json!({ "eof": false }), Vec::new())); // nothing yet (a timeout)
        };
        let n = size.min(state.0.len()).min(super::frame::MAX_BODY);
        let data: Vec<u8> = state.0.drain(..n).collect();
        let eof = state.1 && state.0.is_empty();
        Ok((json!({ "eof": eof }), data))
    }

    /// `proc.wait`: meta `{pid, timeout}`; replies `{returncode}` (null if still running).
    pub fn wait(&mut self, meta: &Map<String, Value>) -> Reply {
        let until = deadline(meta);
        let child = self.child(meta)?;
        let code = wait_status(&child.status, until)?;
        let code = code.map(|c| returncode(c, child.signal));
        Ok((json!({ "returncode": code }), Vec::new()))
    }

    /// `proc.communicate`: meta `{pid, timeout}`; waits for the exit and the end of the
    /// captured output. Replies `{returncode, stdout: len, timeout}` with the stdout then
    /// stderr bytes captured since the last read (on timeout: what there is so far).
    pub fn communicate(&mut self, meta: &Map<String, Value>) -> Reply {
        let until = deadline(meta);
        let child = self.child(meta)?;
        child.stdin = None;
        let mut code = wait_status(&child.status, until)?;
        if code.is_some() {
            for captured in child.captured.iter().flatten() {
                if !wait_eof(captured, until)? {
                    code = None;
                }
            }
        }
        let mut body = Vec::new();
        let mut lengths = [0usize; 2];
        for (i, captured) in child.captured.iter().enumerate() {
            if let Some(captured) = captured {
                let mut state = captured.state.lock().expect("capture lock");
                lengths[i] = state.0.len();
                body.extend(state.0.drain(..));
            }
        }
        if body.len() > super::frame::MAX_BODY {
            return Err(bad(
                "captured output exceeds 64 MiB; read the pipes instead",
            ));
        }
        let reply = json!({
            "returncode": code.map(|c| returncode(c, child.signal)),
            "stdout": lengths[0],
            "timeout": code.is_none(),
        });
        Ok((reply, body))
    }

    /// `proc.kill`: meta `{pid, signal}`; the child stops at its next check and its
    /// return code is `-signal`, as for a native child killed by that signal.
    pub fn kill(&mut self, meta: &Map<String, Value>) -> Reply {
        let signal = meta.get("signal").and_then(Value::as_i64).unwrap_or(9) as i32;
        let child = self.child(meta)?;
        if child.status.code.lock().expect("status lock").is_none() {
            child.signal = signal;
            child.kill.store(true, Ordering::SeqCst);
            // It stops at its next host call; one busy in wasm code is abandoned (its
            // thread runs on until this process ends) and reported killed all the same.
            let until = Instant::now() + stop::STOP_GRACE;
            if wait_status(&child.status, Some(until))?.is_none() {
                child
                    .status
                    .code
                    .lock()
                    .expect("status lock")
                    .get_or_insert(stop::KILLED);
                child.status.done.notify_all();
            }
        }
        Ok((json!({}), Vec::new()))
    }
}

/// The child's guest: the parent's mounts and bridge, the requested argv, cwd and env.
fn child_guest(parent: &Guest, meta: &Map<String, Value>) -> Result<Guest, Failure> {
    let text = |key: &str| meta.get(key).and_then(Value::as_str);
    let exe = text("exe").ok_or_else(|| bad("missing `exe`"))?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let args = meta
        .get("argv")
        .and_then(strings)
        .ok_or_else(|| bad("bad `argv`"))?;
    let mut env = Vec::new();
    for pair in meta
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let pair = strings(pair)
            .filter(|p| p.len() == 2)
            .ok_or_else(|| bad("bad `env`"))?;
        env.push((pair[0].clone(), pair[1].clone()));
    }
    env.push((HOST_VAR.to_owned(), host::facts()));
    let guest = Guest {
        env,
        ..parent.clone()
    };
    let cwd = text("cwd").map(Path::new);
    Ok(plan::command(guest, Path::new(exe), &args, cwd).0)
}

/// The child's streams as meta's `stdin`, `stdout` and `stderr` ask.
fn streams(meta: &Map<String, Value>) -> Result<Streams, Failure> {
    let text = |key: &str| meta.get(key).and_then(Value::as_str);
    let mut streams = Streams {
        stdio: Stdio::default(),
        stdin: None,
        captured: [None, None],
    };
    match text("stdin").unwrap_or("inherit") {
        "pipe" => {
            let (reader, writer) = pipe()?;
            streams.stdio.stdin = Input::Pipe(reader);
            streams.stdin = Some(writer);
        }
        "null" => streams.stdio.stdin = Input::Null,
        _ => {}
    }
    for (i, key) in ["stdout", "stderr"].into_iter().enumerate() {
        let output = match text(key).unwrap_or("inherit") {
            "pipe" => {
                let (reader, writer) = pipe()?;
                streams.captured[i] = Some(drain(reader));
                Output::Pipe(wasmtime_wasi::cli::OutputFile::new(writer))
            }
            "stdout" if i == 1 => streams.stdio.stdout.clone(),
            "null" => Output::Null,
            _ => Output::Inherit,
        };
        match i {
            0 => streams.stdio.stdout = output,
            _ => streams.stdio.stderr = output,
        }
    }
    Ok(streams)
}

fn returncode(code: i32, signal: i32) -> i32 {
    match code {
        stop::KILLED => -signal,
        c if c == stop::INTERRUPTED_EXIT && stop::interrupted() => -libc::SIGINT,
        c => c,
    }
}

/// Waits on `lock`/`changed` until `ready` holds; None when `until` passes first. Wakes
/// every [`TICK`] to notice Ctrl-C.
fn wait_until<'a, T>(
    lock: &'a Mutex<T>,
    changed: &Condvar,
    ready: impl Fn(&T) -> bool,
    until: Option<Instant>,
) -> Result<Option<MutexGuard<'a, T>>, Failure> {
    let mut state = lock.lock().expect("bridge lock");
    while !ready(&state) {
        if stop::interrupted() {
            return Err(Failure::new("interrupted", "interrupted"));
        }
        let tick = match until {
            Some(t) if Instant::now() >= t => return Ok(None),
            Some(t) => TICK.min(t - Instant::now()),
            None => TICK,
        };
        state = changed.wait_timeout(state, tick).expect("bridge lock").0;
    }
    Ok(Some(state))
}

/// The exit code once the child ends, or None when `until` passes first.
fn wait_status(status: &Status, until: Option<Instant>) -> Result<Option<i32>, Failure> {
    let code = wait_until(&status.code, &status.done, Option::is_some, until)?;
    Ok(code.and_then(|c| *c))
}

/// Waits until the drain thread reached the end; false when `until` passes first.
fn wait_eof(captured: &Captured, until: Option<Instant>) -> Result<bool, Failure> {
    let state = wait_until(&captured.state, &captured.changed, |s| s.1, until)?;
    Ok(state.is_some())
}
