//! Blocking on a host socket the way the guest asked (for ever, until a deadline, not at all),
//! in short steps so Ctrl-C and kill still stop a guest that waits.

use super::meta::Meta;
use crate::bridge::errno;
use crate::bridge::reply::Failure;
use serde_json::Value;
use socket2::Socket;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How long one wait step lasts before the stop flag is looked at again.
const STEP: Duration = Duration::from_millis(20);

/// How long a guest operation may block: from `timeout` in the request's meta (`null`:
/// for ever, `0`: not at all, as `settimeout` means).
#[derive(Clone, Copy)]
pub struct Deadline {
    pub until: Option<Instant>,
    pub blocking: bool,
}

impl Deadline {
    pub fn of(meta: &Meta) -> Self {
        match meta.get("timeout").and_then(Value::as_f64) {
            None => Deadline {
                until: None,
                blocking: true,
            },
            Some(t) if t <= 0.0 => Deadline {
                until: None,
                blocking: false,
            },
            Some(t) => Deadline {
                until: Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
                blocking: true,
            },
        }
    }
}

/// Runs `op` on the non-blocking socket, waiting for `events` as `deadline` allows whenever
/// it would block.
pub fn blocking<T>(
    s: &Socket,
    events: i16,
    deadline: Deadline,
    stop: Option<&AtomicBool>,
    mut op: impl FnMut(&Socket) -> std::io::Result<T>,
) -> Result<T, Failure> {
    loop {
        match op(s) {
            Ok(value) => return Ok(value),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock && deadline.blocking => {
                wait(s.as_raw_fd(), events, deadline, stop)?;
            }
            Err(e) => return Err(errno::from_io(&e)),
        }
    }
}

/// Waits until host descriptor `fd` is ready for `events`, the deadline passes (a
/// `TimeoutError`) or the guest is being stopped.
pub fn wait(
    fd: i32,
    events: i16,
    deadline: Deadline,
    stop: Option<&AtomicBool>,
) -> Result<(), Failure> {
    loop {
        if crate::stop::requested(stop).is_some() {
            return Err(Failure::new("stopped", "stopped"));
        }
        let step = match deadline.until {
            Some(until) => {
                let now = Instant::now();
                if now >= until {
                    return Err(Failure::new("timeout", "timed out"));
                }
                (until - now).min(STEP)
            }
            None => STEP,
        };
        let mut poll = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, step.as_millis().max(1) as i32) };
        if ready > 0 {
            return Ok(());
        }
    }
}
