//! Stopping guests from outside: SIGINT (Ctrl-C) for every guest of the process, a kill flag
//! per child interpreter, and the exit codes a stopped guest reports.
//!
//! Wasm code has no cheap way to be stopped from outside (wasmtime's epoch checks would, but
//! cost 18% of all guest CPU time), so a guest stops at its next host call, and one busy in
//! wasm code is abandoned after [`STOP_GRACE`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set by SIGINT: guests stop at their next host call, and the launcher ends the process
/// after [`STOP_GRACE`] if the main guest is still computing.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// How long a guest asked to stop (Ctrl-C, `Popen.kill()`) gets to reach a host call and end
/// by itself before it is abandoned.
pub const STOP_GRACE: Duration = Duration::from_millis(300);
/// The exit code of an interrupted python, as CPython's for an unhandled KeyboardInterrupt.
pub const INTERRUPTED_EXIT: i32 = 130;
/// The exit code a guest stopped by its kill flag reports.
pub const KILLED: i32 = -1;

/// As CPython does at start-up: a write past `RLIMIT_FSIZE` fails with `EFBIG` (an `OSError`
/// in the guest, an error naming the file in the CLI) instead of killing the process.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a disposition to SIG_IGN runs no code of ours in a signal handler.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

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

/// Why a guest was stopped from outside; carried out of wasm as the error of a host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Interrupted,
    Killed,
}

impl Stopped {
    /// The exit code a guest stopped this way reports.
    pub fn exit_code(self) -> i32 {
        match self {
            Stopped::Interrupted => INTERRUPTED_EXIT,
            Stopped::Killed => KILLED,
        }
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Stopped {}

/// Why the guest with kill flag `kill` must stop now, if it must: host calls that block
/// (sleeps) return it as their error, to end the guest as promptly as wasm code would.
pub fn requested(kill: Option<&AtomicBool>) -> Option<Stopped> {
    if interrupted() {
        return Some(Stopped::Interrupted);
    }
    kill.filter(|k| k.load(Ordering::SeqCst))
        .map(|_| Stopped::Killed)
}
