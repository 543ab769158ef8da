//! `poll_oneoff` over the guest's sockets: subscriptions on socket channels are answered by
//! polling their host sockets, so `select`, `selectors` and asyncio's loop wait on them as
//! on any descriptor. Other descriptors in the same call still go to wasmtime-wasi.

use super::memory::{write_u32, ERRNO_FAULT};
use super::Bridge;
use std::time::{Duration, Instant};
use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::runtime::in_tokio;
use wiggle::GuestMemory;

const SUB_SIZE: usize = 48;
const EVENT_SIZE: usize = 32;
const TAG_CLOCK: u8 = 0;
const TAG_READ: u8 = 1;
/// How long one wait step lasts before Ctrl-C and the other descriptors are looked at again.
const STEP: Duration = Duration::from_millis(10);
/// Userdata of the step clock added to a call passed on to wasmtime-wasi.
const STEP_USERDATA: u64 = u64::MAX;

/// One subscription of the guest's array.
#[derive(Clone, Copy)]
struct Sub {
    raw: [u8; SUB_SIZE],
}

impl Sub {
    fn userdata(&self) -> u64 {
        u64::from_le_bytes(self.raw[..8].try_into().unwrap())
    }
    fn tag(&self) -> u8 {
        self.raw[8]
    }
    fn fd(&self) -> u32 {
        u32::from_le_bytes(self.raw[16..20].try_into().unwrap())
    }
}

/// One event to report.
#[derive(Clone, Copy)]
struct Event {
    userdata: u64,
    tag: u8,
    hangup: bool,
}

/// Answers a `poll_oneoff` that names a socket channel; `None` when it names none (the
/// caller passes it on).
pub fn sockets(
    wasi: &mut WasiP1Ctx,
    bridge: &Bridge,
    memory: &mut [u8],
    (subs, events, n, count): (i32, i32, i32, i32),
) -> wasmtime::Result<Option<i32>> {
    let Some(all) = read_subs(memory, subs, n) else {
        return Ok(None);
    };
    let is_socket = |s: &Sub| s.tag() != TAG_CLOCK && bridge.socket(s.fd()).is_some();
    if !all.iter().any(is_socket) {
        return Ok(None);
    }
    let deadline = clock_deadline(wasi, &all);
    let others: Vec<Sub> = all
        .iter()
        .filter(|s| s.tag() != TAG_CLOCK && !is_socket(s))
        .copied()
        .collect();
    loop {
        if let Some(stop) = bridge.stop_requested() {
            return Err(stop);
        }
        let now = Instant::now();
        let step = deadline.map_or(STEP, |(until, _)| {
            until.saturating_duration_since(now).min(STEP)
        });
        let mut ready = if others.is_empty() {
            socket_events(bridge, &all, step)
        } else {
            let mut ready = socket_events(bridge, &all, Duration::ZERO);
            let wait = if ready.is_empty() {
                step
            } else {
                Duration::ZERO
            };
            ready.extend(other_events(wasi, &others, wait)?);
            ready
        };
        if ready.is_empty() {
            match deadline {
                Some((until, userdata)) if Instant::now() >= until => ready.push(Event {
                    userdata,
                    tag: TAG_CLOCK,
                    hangup: false,
                }),
                _ => continue,
            }
        }
        return Ok(Some(write_events(memory, events, count, n, &ready)));
    }
}

fn read_subs(memory: &[u8], subs: i32, n: i32) -> Option<Vec<Sub>> {
    let start = subs as u32 as usize;
    let len = (n as u32 as usize).checked_mul(SUB_SIZE)?;
    let bytes = memory.get(start..start.checked_add(len)?)?;
    Some(
        bytes
            .chunks_exact(SUB_SIZE)
            .map(|c| Sub {
                raw: c.try_into().unwrap(),
            })
            .collect(),
    )
}

/// The earliest clock subscription: when it fires, and its userdata.
fn clock_deadline(wasi: &mut WasiP1Ctx, subs: &[Sub]) -> Option<(Instant, u64)> {
    let now = Instant::now();
    subs.iter()
        .filter(|s| s.tag() == TAG_CLOCK)
        .filter_map(|s| {
            let clock = u32::from_le_bytes(s.raw[16..20].try_into().unwrap());
            let timeout = u64::from_le_bytes(s.raw[24..32].try_into().unwrap());
            let absolute = u16::from_le_bytes([s.raw[40], s.raw[41]]) & 1 != 0;
            let nanos = if absolute {
                timeout.saturating_sub(clock_now(wasi, clock)?)
            } else {
                timeout
            };
            Some((now + Duration::from_nanos(nanos), s.userdata()))
        })
        .min_by_key(|(at, _)| *at)
}

fn clock_now(wasi: &mut WasiP1Ctx, clock: u32) -> Option<u64> {
    let mut now = [0u8; 8];
    let mut memory = GuestMemory::Unshared(&mut now);
    let errno = p1::clock_time_get(wasi, &mut memory, clock as i32, 1, 0).ok()?;
    (errno == 0).then(|| u64::from_le_bytes(now))
}

/// Polls the host sockets behind the socket subscriptions for up to `wait`.
fn socket_events(bridge: &Bridge, subs: &[Sub], wait: Duration) -> Vec<Event> {
    let mut polled = Vec::new();
    let mut fds = Vec::new();
    let mut buffered = Vec::new();
    for sub in subs.iter().filter(|s| s.tag() != TAG_CLOCK) {
        let Some((host_fd, has_plaintext)) = bridge.socket(sub.fd()) else {
            continue;
        };
        let events = if sub.tag() == TAG_READ {
            libc::POLLIN
        } else {
            libc::POLLOUT
        };
        polled.push(*sub);
        fds.push(libc::pollfd {
            fd: host_fd,
            events,
            revents: 0,
        });
        buffered.push(has_plaintext && sub.tag() == TAG_READ);
    }
    let wait = if buffered.iter().any(|b| *b) {
        Duration::ZERO
    } else {
        wait
    };
    // SAFETY: a valid array of pollfds of the given length.
    let _ = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            wait.as_millis() as i32,
        )
    };
    polled
        .iter()
        .zip(fds.iter().zip(&buffered))
        .filter(|(_, (p, b))| **b || p.revents != 0)
        .map(|(sub, (p, _))| Event {
            userdata: sub.userdata(),
            tag: sub.tag(),
            hangup: p.revents & libc::POLLHUP != 0,
        })
        .collect()
}

/// Asks wasmtime-wasi about the other descriptors, waiting up to `wait`.
fn other_events(
    wasi: &mut WasiP1Ctx,
    others: &[Sub],
    wait: Duration,
) -> wasmtime::Result<Vec<Event>> {
    let mut scratch = Vec::with_capacity((others.len() + 1) * (SUB_SIZE + EVENT_SIZE) + 8);
    for sub in others {
        scratch.extend_from_slice(&sub.raw);
    }
    let mut clock = [0u8; SUB_SIZE];
    clock[..8].copy_from_slice(&STEP_USERDATA.to_le_bytes());
    clock[16..20].copy_from_slice(&1u32.to_le_bytes()); // monotonic
    clock[24..32].copy_from_slice(&(wait.as_nanos() as u64).to_le_bytes());
    scratch.extend_from_slice(&clock);
    let n = others.len() + 1;
    let events_at = scratch.len();
    scratch.resize(events_at + n * EVENT_SIZE + 4, 0);
    let count_at = scratch.len() - 4;
    let errno = in_tokio(p1::poll_oneoff(
        wasi,
        &mut GuestMemory::Unshared(&mut scratch),
        0,
        events_at as i32,
        n as i32,
        count_at as i32,
    ))?;
    if errno != 0 {
        return Ok(Vec::new());
    }
    let got = u32::from_le_bytes(scratch[count_at..].try_into().unwrap()) as usize;
    Ok(scratch[events_at..events_at + got.min(n) * EVENT_SIZE]
        .chunks_exact(EVENT_SIZE)
        .map(|e| Event {
            userdata: u64::from_le_bytes(e[..8].try_into().unwrap()),
            tag: e[10],
            hangup: u16::from_le_bytes([e[24], e[25]]) & 1 != 0,
        })
        .filter(|e| e.userdata != STEP_USERDATA)
        .collect())
}

/// Writes `ready` (at most `n`) as WASI events; returns the errno of the call.
fn write_events(memory: &mut [u8], events: i32, count: i32, n: i32, ready: &[Event]) -> i32 {
    let ready = &ready[..ready.len().min(n as u32 as usize)];
    let start = events as u32 as usize;
    let Some(out) = memory.get_mut(start..start + ready.len() * EVENT_SIZE) else {
        return ERRNO_FAULT;
    };
    for (slot, event) in out.chunks_exact_mut(EVENT_SIZE).zip(ready) {
        slot.fill(0);
        slot[..8].copy_from_slice(&event.userdata.to_le_bytes());
        slot[10] = event.tag;
        if event.tag != TAG_CLOCK {
            slot[16..24].copy_from_slice(&1u64.to_le_bytes());
            slot[24..26].copy_from_slice(&u16::from(event.hangup).to_le_bytes());
        }
    }
    write_u32(memory, count, ready.len() as u32)
}
