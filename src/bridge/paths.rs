//! The shadowed path calls (`path_open`, `path_filestat_get`, `path_readlink`, ...). Each
//! runs as wasmtime-wasi runs it; one that cap-std refused because its path goes through an
//! absolute symlink is retried once with the path [`links`] resolved, passed in a scratch
//! memory (the guest's holds only the path it gave), its results copied back. Paths without
//! symlinks pay nothing: the retry follows only a refusal.

use super::fs::FIRST_PREOPEN;
use super::links;
use super::memory::{slice, with_memory, write_u32, Parts, ERRNO_FAULT, MODULE};
use super::Bridge;
use cap_primitives::fs::{
    open_ambient_dir, read_link_contents, stat, symlink_contents, FollowSymlinks,
};
use std::path::Path;
use wasmtime::{Caller, Linker};
use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::runtime::in_tokio;
use wiggle::GuestMemory;

/// WASI errnos `perm` and `notcapable`: what cap-std's refusals become.
const ERRNO_PERM: i32 = 63;
const ERRNO_NOTCAPABLE: i32 = 76;
/// WASI errno `noent`.
const ERRNO_NOENT: i32 = 44;
/// WASI errno `mfile`: the run's channel limit is reached.
const ERRNO_MFILE: i32 = 33;
/// A WASI `filestat` (what `path_filestat_get` writes).
const FILESTAT_LEN: usize = 64;
/// Open flag `directory`.
const OFLAGS_DIRECTORY: i32 = 2;
/// Lookup flag `symlink_follow`.
const FOLLOW: i32 = 1;

/// One path argument: the directory descriptor, the path in guest memory, and whether the
/// call follows its last component.
#[derive(Clone, Copy)]
struct PathArg {
    fd: i32,
    ptr: i32,
    len: i32,
    follow: bool,
}

/// A call with its path arguments and result buffer placed by the caller: `(wasi, memory,
/// [(fd, path, len)], out)`.
type Call<'a> = dyn FnMut(&mut WasiP1Ctx, &mut GuestMemory<'_>, &[(i32, i32, i32)], i32) -> wasmtime::Result<i32>
    + 'a;

/// Replaces the path calls in `linker` (shadowing must be allowed).
pub fn shadow<T: Send + 'static>(linker: &mut Linker<T>, parts: Parts<T>) -> wasmtime::Result<()> {
    shadow_open(linker, parts)?;
    shadow_stat(linker, parts)?;
    shadow_changes(linker, parts)?;
    shadow_links(linker, parts)?;
    Ok(())
}

/// `path_open`: a descriptor opened in the bridge's preopen becomes a channel.
fn shadow_open<T: Send + 'static>(linker: &mut Linker<T>, parts: Parts<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "path_open",
        move |mut caller: Caller<'_, T>,
              dir: i32,
              dirflags: i32,
              path: i32,
              len: i32,
              oflags: i32,
              rights: i64,
              inheriting: i64,
              fdflags: i32,
              opened: i32|
              -> wasmtime::Result<i32> {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                if bridge.channels_full(dir as u32) {
                    return Ok(ERRNO_MFILE);
                }
                let arg = PathArg::new(dir, path, len, dirflags & FOLLOW != 0);
                let errno = retried(
                    wasi,
                    &*bridge,
                    memory,
                    &[arg],
                    (opened, 4),
                    &mut |w, m, p, out| {
                        let [(dir, path, len)] = p else {
                            unreachable!()
                        };
                        let open = p1::path_open(
                            w, m, *dir, dirflags, *path, *len, oflags, rights, inheriting, fdflags,
                            out,
                        );
                        in_tokio(open)
                    },
                )?;
                if errno == 0 {
                    if let Some(fd) = super::memory::read_u32(memory, opened) {
                        bridge.opened(dir as u32, fd);
                        // A directory is never a FIFO: most opens at start-up record nothing.
                        let name = slice(memory, path, len as u32 as usize);
                        if let (0, Some(name)) = (oflags & OFLAGS_DIRECTORY, name) {
                            bridge.opened_path(dir as u32, fd, name);
                        }
                    }
                }
                Ok(errno)
            })
        },
    )?;
    Ok(())
}

/// `path_filestat_get`, `path_filestat_set_times`.
fn shadow_stat<T: Send + 'static>(linker: &mut Linker<T>, parts: Parts<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "path_filestat_get",
        move |mut caller: Caller<'_, T>, dir: i32, flags: i32, path: i32, len: i32, buf: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let arg = PathArg::new(dir, path, len, flags & FOLLOW != 0);
                retried(
                    wasi,
                    &*bridge,
                    memory,
                    &[arg],
                    (buf, FILESTAT_LEN),
                    &mut |w, m, p, out| {
                        let [(dir, path, len)] = p else {
                            unreachable!()
                        };
                        in_tokio(p1::path_filestat_get(w, m, *dir, flags, *path, *len, out))
                    },
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_set_times",
        move |mut caller: Caller<'_, T>,
              dir: i32,
              flags: i32,
              path: i32,
              len: i32,
              atim: i64,
              mtim: i64,
              fst: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let arg = PathArg::new(dir, path, len, flags & FOLLOW != 0);
                retried(wasi, &*bridge, memory, &[arg], (0, 0), &mut |w, m, p, _| {
                    let [(dir, path, len)] = p else {
                        unreachable!()
                    };
                    let set = p1::path_filestat_set_times(
                        w, m, *dir, flags, *path, *len, atim, mtim, fst,
                    );
                    in_tokio(set)
                })
            })
        },
    )?;
    Ok(())
}

/// `path_create_directory`, `path_remove_directory`, `path_unlink_file`, `path_rename`: the
/// last component is never followed.
fn shadow_changes<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: Parts<T>,
) -> wasmtime::Result<()> {
    type Plain = fn(&mut WasiP1Ctx, &mut GuestMemory<'_>, i32, i32, i32) -> wasmtime::Result<i32>;
    let plain: [(&str, Plain); 3] = [
        ("path_create_directory", |w, m, d, p, l| {
            in_tokio(p1::path_create_directory(w, m, d, p, l))
        }),
        ("path_remove_directory", |w, m, d, p, l| {
            in_tokio(p1::path_remove_directory(w, m, d, p, l))
        }),
        ("path_unlink_file", |w, m, d, p, l| {
            in_tokio(p1::path_unlink_file(w, m, d, p, l))
        }),
    ];
    for (name, call) in plain {
        linker.func_wrap(
            MODULE,
            name,
            move |mut caller: Caller<'_, T>, dir: i32, path: i32, len: i32| {
                with_memory(&mut caller, parts, |wasi, bridge, memory| {
                    let arg = PathArg::new(dir, path, len, false);
                    let errno =
                        retried(wasi, &*bridge, memory, &[arg], (0, 0), &mut |w, m, p, _| {
                            let [(dir, path, len)] = p else {
                                unreachable!()
                            };
                            call(w, m, *dir, *path, *len)
                        })?;
                    Ok(missing_first(bridge, memory, arg, errno))
                })
            },
        )?;
    }
    linker.func_wrap(
        MODULE,
        "path_rename",
        move |mut caller: Caller<'_, T>,
              dir: i32,
              old: i32,
              old_len: i32,
              new_dir: i32,
              new: i32,
              new_len: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let args = [
                    PathArg::new(dir, old, old_len, false),
                    PathArg::new(new_dir, new, new_len, false),
                ];
                retried(wasi, &*bridge, memory, &args, (0, 0), &mut |w, m, p, _| {
                    let [(d1, p1_, l1), (d2, p2, l2)] = p else {
                        unreachable!()
                    };
                    in_tokio(p1::path_rename(w, m, *d1, *p1_, *l1, *d2, *p2, *l2))
                })
            })
        },
    )?;
    Ok(())
}

/// `path_link`, `path_readlink` and `path_symlink`: cap-std reads and writes only relative
/// link targets, so an absolute one is read (anywhere) and written (in a transparent venv
/// only) here, inside the mount the path resolves to.
fn shadow_links<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: Parts<T>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "path_link",
        move |mut caller: Caller<'_, T>,
              dir: i32,
              flags: i32,
              old: i32,
              old_len: i32,
              new_dir: i32,
              new: i32,
              new_len: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let args = [
                    PathArg::new(dir, old, old_len, flags & FOLLOW != 0),
                    PathArg::new(new_dir, new, new_len, false),
                ];
                retried(wasi, &*bridge, memory, &args, (0, 0), &mut |w, m, p, _| {
                    let [(d1, p1_, l1), (d2, p2, l2)] = p else {
                        unreachable!()
                    };
                    in_tokio(p1::path_link(w, m, *d1, flags, *p1_, *l1, *d2, *p2, *l2))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_readlink",
        move |mut caller: Caller<'_, T>,
              dir: i32,
              path: i32,
              len: i32,
              buf: i32,
              buf_len: i32,
              used: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let mut guest = GuestMemory::Unshared(memory);
                let errno = in_tokio(p1::path_readlink(
                    wasi, &mut guest, dir, path, len, buf, buf_len, used,
                ))?;
                if !refused(errno) {
                    return Ok(errno);
                }
                let out = (buf, buf_len, used);
                Ok(readlink_here(
                    bridge,
                    memory,
                    PathArg::new(dir, path, len, false),
                    out,
                    errno,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_symlink",
        move |mut caller: Caller<'_, T>,
              old: i32,
              old_len: i32,
              dir: i32,
              new: i32,
              new_len: i32| {
            with_memory(&mut caller, parts, |wasi, bridge, memory| {
                let mut guest = GuestMemory::Unshared(memory);
                let errno = in_tokio(p1::path_symlink(
                    wasi, &mut guest, old, old_len, dir, new, new_len,
                ))?;
                let target = PathArg::new(0, old, old_len, false);
                let arg = PathArg::new(dir, new, new_len, false);
                Ok(symlink_here(bridge, memory, target, arg, errno))
            })
        },
    )?;
    Ok(())
}

/// `readlink` of a link cap-std refused to read (its target is absolute): read here, inside
/// the mount its path resolves to; `out` is the guest's (buffer, length, count pointer).
fn readlink_here(
    bridge: &Bridge,
    memory: &mut [u8],
    arg: PathArg,
    out: (i32, i32, i32),
    errno: i32,
) -> i32 {
    let target = match resolved(bridge, memory, arg) {
        Ok(Some((fd, rel))) => {
            host_dir(bridge, fd).and_then(|d| read_link_contents(&d, Path::new(&rel)))
        }
        Ok(None) => return errno,
        Err(loop_errno) => return loop_errno,
    };
    match target {
        Ok(target) => put_bytes(memory, target.as_os_str().as_encoded_bytes(), out),
        Err(e) => super::errno::wasi(&e, ERRNO_PERM),
    }
}

/// `symlink` with an absolute `target`, which cap-std refuses to write: made here, in a
/// transparent venv only (a sandbox keeps the refusal), inside the mount `arg` resolves to.
/// `target` is the link's contents in guest memory (its `fd` unused).
fn symlink_here(bridge: &Bridge, memory: &[u8], target: PathArg, arg: PathArg, errno: i32) -> i32 {
    if !refused(errno) || bridge.sandboxed() {
        return errno;
    }
    let bytes = slice(memory, target.ptr, target.len as u32 as usize).unwrap_or_default();
    let Some(target) = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.starts_with('/'))
    else {
        return errno;
    };
    match resolved(bridge, memory, arg) {
        Ok(Some((fd, rel))) => host_dir(bridge, fd)
            .and_then(|d| symlink_contents(target, &d, Path::new(&rel)))
            .map_or_else(|e| super::errno::wasi(&e, ERRNO_PERM), |()| 0),
        Ok(None) => errno,
        Err(loop_errno) => loop_errno,
    }
}

impl PathArg {
    fn new(fd: i32, ptr: i32, len: i32, follow: bool) -> Self {
        Self {
            fd,
            ptr,
            len,
            follow,
        }
    }
}

fn refused(errno: i32) -> bool {
    errno == ERRNO_PERM || errno == ERRNO_NOTCAPABLE
}

/// Runs `call` on the guest's memory; if cap-std refused it, once more with each path that
/// goes through an absolute symlink resolved, copying `out` (pointer, length) back.
fn retried(
    wasi: &mut WasiP1Ctx,
    bridge: &Bridge,
    memory: &mut [u8],
    args: &[PathArg],
    out: (i32, usize),
    call: &mut Call<'_>,
) -> wasmtime::Result<i32> {
    // Every path call of every start-up comes here: no allocation before a refusal.
    let mut given = [(0, 0, 0); 2];
    for (slot, a) in given.iter_mut().zip(args) {
        *slot = (a.fd, a.ptr, a.len);
    }
    let given = &given[..args.len()];
    let errno = call(wasi, &mut GuestMemory::Unshared(memory), given, out.0)?;
    if !refused(errno) {
        return Ok(errno);
    }
    let mut paths = Vec::new();
    for arg in args {
        match resolved(bridge, memory, *arg) {
            // The same path again would only be refused again.
            Ok(Some(found)) if !unchanged(memory, arg, &found) => paths.push(Some(found)),
            Ok(_) => paths.push(None),
            Err(loop_errno) => return Ok(loop_errno),
        }
    }
    if paths.iter().all(Option::is_none) {
        return Ok(errno);
    }
    // Scratch layout: the result at 8 (aligned, and never a null pointer), then each path
    // (the one resolved, or the guest's own bytes).
    let result_at = 8;
    let mut scratch = vec![0u8; result_at + out.1];
    let mut placed = Vec::new();
    for (arg, found) in args.iter().zip(&paths) {
        let (fd, bytes) = match found {
            Some((fd, rel)) => (*fd, rel.as_bytes().to_vec()),
            None => match slice(memory, arg.ptr, arg.len as u32 as usize) {
                Some(bytes) => (arg.fd, bytes.to_vec()),
                None => return Ok(ERRNO_FAULT),
            },
        };
        placed.push((fd, scratch.len() as i32, bytes.len() as i32));
        scratch.extend_from_slice(&bytes);
    }
    let errno = call(
        wasi,
        &mut GuestMemory::Unshared(&mut scratch),
        &placed,
        result_at as i32,
    )?;
    if errno == 0 && out.1 > 0 {
        let start = out.0 as u32 as usize;
        let Some(dest) = memory.get_mut(start..start + out.1) else {
            return Ok(ERRNO_FAULT);
        };
        dest.copy_from_slice(&scratch[result_at..result_at + out.1]);
    }
    Ok(errno)
}

/// Where path `arg` leads once its absolute symlinks are resolved: the descriptor of the
/// mount's preopen and the path inside it; `None` if the call's own directory is not a
/// mount's or the path leads outside every mount.
fn resolved(bridge: &Bridge, memory: &[u8], arg: PathArg) -> Result<Option<(i32, String)>, i32> {
    let table = bridge.fs_table();
    let Some(index) = table.mount_at(arg.fd) else {
        return Ok(None);
    };
    let Some(path) =
        slice(memory, arg.ptr, arg.len as u32 as usize).and_then(|b| std::str::from_utf8(b).ok())
    else {
        return Ok(None);
    };
    let root = table.mounts[index].guest.trim_end_matches('/');
    let Some(found) = links::resolve(table, &format!("{root}/{path}"), arg.follow)? else {
        return Ok(None);
    };
    let fd = (FIRST_PREOPEN as usize + found.mount) as i32;
    Ok(Some((fd, found.rel)))
}

/// A read-only mount refuses a change before it looks the name up; natively the lookup
/// comes first, so removing a name that does not exist is `ENOENT` (what
/// `os_helper.unlink` and `contextlib.suppress(FileNotFoundError)` expect).
fn missing_first(bridge: &Bridge, memory: &[u8], arg: PathArg, errno: i32) -> i32 {
    if !refused(errno) {
        return errno;
    }
    let Ok(Some((fd, rel))) = resolved(bridge, memory, arg) else {
        return errno;
    };
    let absent = host_dir(bridge, fd).and_then(|d| stat(&d, Path::new(&rel), FollowSymlinks::No));
    match absent {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ERRNO_NOENT,
        _ => errno,
    }
}

/// Whether `found` is where `arg` already pointed.
fn unchanged(memory: &[u8], arg: &PathArg, found: &(i32, String)) -> bool {
    let given = slice(memory, arg.ptr, arg.len as u32 as usize).unwrap_or_default();
    let rel = found.1.as_bytes();
    found.0 == arg.fd && (rel == given || (rel == b"." && given.is_empty()))
}

/// The host directory behind the preopen `fd`.
fn host_dir(bridge: &Bridge, fd: i32) -> std::io::Result<std::fs::File> {
    let table = bridge.fs_table();
    let mount = table
        .mount_at(fd)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    open_ambient_dir(
        &table.mounts[mount].host,
        cap_primitives::ambient_authority(),
    )
}

/// Writes as much of `bytes` as fits the guest's buffer, and the count (as `readlink`).
fn put_bytes(memory: &mut [u8], bytes: &[u8], (buf, buf_len, used): (i32, i32, i32)) -> i32 {
    let n = bytes.len().min(buf_len.max(0) as usize);
    let start = buf as u32 as usize;
    let Some(dest) = memory.get_mut(start..start + n) else {
        return ERRNO_FAULT;
    };
    dest.copy_from_slice(&bytes[..n]);
    write_u32(memory, used, n as u32)
}
