//! Shadows `wasi_snapshot_preview1` imports so the bridge's descriptors reach [`Bridge`],
//! sleeps and directory listings are served well, and every other call reaches wasmtime-wasi
//! unchanged.
//!
//! The originals are wasmtime-wasi's own generated functions, called with the guest's
//! memory exactly as its linker glue does (including the host-call fuel it expects).

use super::memory::{gather, iovecs, slice, with_memory, write_u32, Parts, ERRNO_FAULT, MODULE};
use super::readdir::{Listing, Listings};
use super::streams::ERRNO_SPIPE;
use super::Bridge;
use wasmtime::{Caller, Linker};
use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::runtime::in_tokio;
use wiggle::GuestMemory;

/// WASI errnos `io` (what wasmtime-wasi reports for any failed stdio write) and `pipe`.
const ERRNO_IO: i32 = 29;
const ERRNO_PIPE: i32 = 64;
/// WASI errno `nomem`: a directory listing too big to hold.
const ERRNO_NOMEM: i32 = 48;

/// Replaces `path_open`, `fd_write`, `fd_read`, `fd_close`, `poll_oneoff` and `fd_readdir`
/// in `linker`.
pub fn shadow<T: Send + 'static>(linker: &mut Linker<T>, parts: Parts<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    shadow_fd_io(linker, parts)?;
    shadow_poll_and_readdir(linker, parts)?;
    super::paths::shadow(linker, parts)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `fd_write`, `fd_read`, `fd_close`: channels, streams (FIFOs) and discarded stdio are the
/// bridge's; a write to a closed stdout pipe is `EPIPE`, as natively.
fn shadow_fd_io<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: Parts<T>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, written: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let ours = bridge.discards(fd as u32) || bridge.is_channel(fd as u32);
                if bridge.is_stream(fd as u32) {
                    return Ok(stream_write(bridge, memory, fd, (iovs, len), written)
                        .unwrap_or(ERRNO_SPIPE));
                }
                if !ours {
                    let errno = in_tokio(p1::fd_write(
                        wasi,
                        &mut GuestMemory::Unshared(memory),
                        fd,
                        iovs,
                        len,
                        written,
                    ))?;
                    if errno == ERRNO_SPIPE {
                        // A FIFO: written in sequence by the bridge from now on.
                        let streamed = stream_write(bridge, memory, fd, (iovs, len), written);
                        return Ok(streamed.unwrap_or(errno));
                    }
                    if errno == ERRNO_IO && (fd == 1 || fd == 2) && reader_gone(fd) {
                        // `python ... | head`: natively a BrokenPipeError, not an I/O error.
                        return Ok(ERRNO_PIPE);
                    }
                    return Ok(errno);
                }
                let Some(data) = gather(memory, iovs, len) else {
                    return Ok(ERRNO_FAULT);
                };
                // A discarded stdio write (os.dup2(devnull, 1)) just reports success.
                bridge.write(fd as u32, &data);
                Ok(write_u32(memory, written, data.len() as u32))
            })
        },
    )?;
    shadow_fd_read_close(linker, parts)
}

/// `fd_read` and `fd_close`, for channels and streams.
fn shadow_fd_read_close<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: Parts<T>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_read",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, read: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                if bridge.is_stream(fd as u32) {
                    return Ok(
                        stream_read(bridge, memory, fd, (iovs, len), read).unwrap_or(ERRNO_SPIPE)
                    );
                }
                if !bridge.is_channel(fd as u32) {
                    let errno = in_tokio(p1::fd_read(
                        wasi,
                        &mut GuestMemory::Unshared(memory),
                        fd,
                        iovs,
                        len,
                        read,
                    ))?;
                    if errno == ERRNO_SPIPE {
                        let streamed = stream_read(bridge, memory, fd, (iovs, len), read);
                        return Ok(streamed.unwrap_or(errno));
                    }
                    return Ok(errno);
                }
                Ok(scatter(memory, bridge, fd as u32, iovs, len, read))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_close",
        move |mut caller: Caller<'_, T>, fd: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                bridge.closed(fd as u32);
                in_tokio(p1::fd_close(wasi, &mut GuestMemory::Unshared(memory), fd))
            })
        },
    )?;
    Ok(())
}

/// `poll_oneoff` (plain sleeps see Ctrl-C; sockets are the host's) and `fd_readdir` (a listing read once).
fn shadow_poll_and_readdir<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: Parts<T>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        move |mut caller: Caller<'_, T>, subs: i32, events: i32, n: i32, count: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                if let Some(nanos) = plain_sleep(wasi, memory, subs, n) {
                    return sleep(memory, bridge, subs, events, count, nanos);
                }
                let call = (subs, events, n, count);
                if let Some(errno) = super::poll::sockets(wasi, bridge, memory, call)? {
                    return Ok(errno);
                }
                in_tokio(p1::poll_oneoff(
                    wasi,
                    &mut GuestMemory::Unshared(memory),
                    subs,
                    events,
                    n,
                    count,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_readdir",
        move |mut caller: Caller<'_, T>, fd: i32, buf: i32, len: i32, cookie: i64, used: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let request = Readdir {
                    fd,
                    buf,
                    len: len as u32 as usize,
                    cookie: cookie as u64,
                    used,
                };
                readdir(wasi, bridge.listings(), memory, request)
            })
        },
    )?;

    Ok(())
}

/// The arguments of one `fd_readdir` call.
struct Readdir {
    fd: i32,
    buf: i32,
    len: usize,
    cookie: u64,
    used: i32,
}

/// `fd_readdir` served from the listing read at cookie 0 (see [`super::readdir`]).
fn readdir(
    wasi: &mut WasiP1Ctx,
    listings: &mut Listings,
    memory: &mut [u8],
    call: Readdir,
) -> wasmtime::Result<i32> {
    let fd = call.fd as u32;
    if call.cookie == 0 || !listings.contains_key(&fd) {
        match read_listing(wasi, call.fd)? {
            Ok(listing) => listings.insert(fd, listing),
            Err(errno) => return Ok(errno),
        };
    }
    let out = listings[&fd].serve(call.cookie, call.len);
    let start = call.buf as u32 as usize;
    let Some(dest) = memory.get_mut(start..start + out.len()) else {
        return Ok(ERRNO_FAULT);
    };
    dest.copy_from_slice(out);
    let n = out.len();
    if n < call.len {
        // A short read is the end for wasi-libc; a later call at another cookie reads again.
        listings.remove(&fd);
    }
    Ok(write_u32(memory, call.used, n as u32))
}

/// The whole listing of directory `fd` from wasmtime-wasi, or its errno.
fn read_listing(wasi: &mut WasiP1Ctx, fd: i32) -> wasmtime::Result<Result<Listing, i32>> {
    let mut size: usize = 64 << 10;
    loop {
        // The count goes to bytes 0..4 and the entries after it.
        let mut host = vec![0u8; size + 4];
        let errno = in_tokio(p1::fd_readdir(
            wasi,
            &mut GuestMemory::Unshared(&mut host),
            fd,
            4,
            size as i32,
            0,
            0,
        ))?;
        if errno != 0 {
            return Ok(Err(errno));
        }
        let used = u32::from_le_bytes([host[0], host[1], host[2], host[3]]) as usize;
        if used < size {
            host.truncate(4 + used);
            return Ok(Listing::parse(host.split_off(4)).ok_or(ERRNO_IO));
        }
        size = match size.checked_mul(4) {
            Some(bigger) if bigger <= (i32::MAX as usize) / 2 => bigger,
            _ => return Ok(Err(ERRNO_NOMEM)),
        };
    }
}

/// A `poll_oneoff` that only waits for one clock (`time.sleep`): how long it waits.
fn plain_sleep(wasi: &mut WasiP1Ctx, memory: &[u8], subs: i32, n: i32) -> Option<u64> {
    let sub = slice(memory, subs, 48)?;
    if n != 1 || sub[8] != 0 {
        return None;
    }
    let clock = u32::from_le_bytes(sub[16..20].try_into().ok()?);
    let timeout = u64::from_le_bytes(sub[24..32].try_into().ok()?);
    if u16::from_le_bytes([sub[40], sub[41]]) & 1 == 0 {
        return Some(timeout);
    }
    // An absolute deadline on the guest's clock: ask that clock what time it is.
    let mut now = [0u8; 8];
    let errno = p1::clock_time_get(
        wasi,
        &mut GuestMemory::Unshared(&mut now),
        clock as i32,
        1,
        0,
    )
    .ok()?;
    (errno == 0).then(|| timeout.saturating_sub(u64::from_le_bytes(now)))
}

/// Sleeps in short steps so that Ctrl-C or a parent's kill ends the guest promptly, then
/// reports the clock event.
fn sleep(
    memory: &mut [u8],
    bridge: &Bridge,
    subs: i32,
    events: i32,
    count: i32,
    nanos: u64,
) -> wasmtime::Result<i32> {
    let until = std::time::Instant::now() + std::time::Duration::from_nanos(nanos);
    loop {
        if let Some(stop) = bridge.stop_requested() {
            return Err(stop);
        }
        let now = std::time::Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(std::time::Duration::from_millis(20)));
    }
    let Some(userdata) = slice(memory, subs, 8).map(|b| b.to_vec()) else {
        return Ok(ERRNO_FAULT);
    };
    let start = events as u32 as usize;
    let Some(event) = memory.get_mut(start..start + 32) else {
        return Ok(ERRNO_FAULT);
    };
    event.fill(0);
    event[..8].copy_from_slice(&userdata); // error 0, type 0 (clock)
    Ok(write_u32(memory, count, 1))
}

/// Whether the host's stdout/stderr is a pipe whose reading end is closed.
/// Writes iovecs `iovs` to stream `fd` ([`Bridge::stream_write`]); the WASI errno, or None
/// if `fd` is not a FIFO.
fn stream_write(
    bridge: &mut Bridge,
    memory: &mut [u8],
    fd: i32,
    iovs: (i32, i32),
    written: i32,
) -> Option<i32> {
    let Some(data) = gather(memory, iovs.0, iovs.1) else {
        return Some(ERRNO_FAULT);
    };
    Some(match bridge.stream_write(fd as u32, &data)? {
        Ok(n) => write_u32(memory, written, n as u32),
        Err(errno) => errno,
    })
}

/// Reads from stream `fd` into the first iovec that has room (a short read, as a pipe's).
fn stream_read(
    bridge: &mut Bridge,
    memory: &mut [u8],
    fd: i32,
    iovs: (i32, i32),
    read: i32,
) -> Option<i32> {
    let Some(parts) = iovecs(memory, iovs.0, iovs.1) else {
        return Some(ERRNO_FAULT);
    };
    let Some(&(ptr, n)) = parts.iter().find(|(_, n)| *n > 0) else {
        return Some(write_u32(memory, read, 0));
    };
    let start = ptr as u32 as usize;
    let Some(buf) = memory.get_mut(start..start.saturating_add(n)) else {
        return Some(ERRNO_FAULT);
    };
    Some(match bridge.stream_read(fd as u32, buf)? {
        Ok(got) => write_u32(memory, read, got as u32),
        Err(errno) => errno,
    })
}

fn reader_gone(fd: i32) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & libc::POLLERR != 0
}

/// Fills an iovec array from the channel's pending reply; writes the count to `read`.
fn scatter(memory: &mut [u8], bridge: &mut Bridge, fd: u32, iovs: i32, len: i32, read: i32) -> i32 {
    let Some(parts) = iovecs(memory, iovs, len) else {
        return ERRNO_FAULT;
    };
    let mut total = 0usize;
    for (ptr, n) in parts {
        let start = ptr as u32 as usize;
        let Some(out) = memory.get_mut(start..start.saturating_add(n)) else {
            return ERRNO_FAULT;
        };
        let got = bridge.read(fd, out);
        total += got;
        if got < n {
            break;
        }
    }
    write_u32(memory, read, total as u32)
}
