//! The guest's linear memory for the shadowed WASI calls: reaching it from a host function
//! (with the WASI context and the bridge), bounds-checked slices, little-endian words and
//! iovec arrays.

use super::Bridge;
use wasmtime::{AsContextMut, Caller, Extern};
use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The module whose imports are shadowed.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Projects the store's state to the WASI context and the bridge.
pub type Parts<T> = fn(&mut T) -> (&mut WasiP1Ctx, &mut Bridge);

/// WASI errno `fault`: a pointer outside the guest's memory.
pub const ERRNO_FAULT: i32 = 21;

/// Runs `f` with the WASI context, the bridge and the guest's memory, as wasmtime-wasi's
/// glue would (it reads the host-call fuel from the store before every call).
pub fn with_memory<T>(
    caller: &mut Caller<'_, T>,
    parts: Parts<T>,
    f: impl FnOnce(&mut WasiP1Ctx, &mut Bridge, &mut [u8]) -> wasmtime::Result<i32>,
) -> wasmtime::Result<i32> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("the guest exports no memory");
    };
    let (bytes, state) = memory.data_and_store_mut(caller);
    let (wasi, bridge) = parts(state);
    // A guest asked to stop (Ctrl-C, a parent's kill) ends at its next I/O call, and after
    // one that was waiting (a child's exit, a bridge reply) when the request came.
    if let Some(stop) = bridge.stop_requested() {
        return Err(stop);
    }
    <WasiP1Ctx as p1::WasiSnapshotPreview1>::set_hostcall_fuel(wasi, fuel);
    let result = f(wasi, bridge, bytes);
    match bridge.stop_requested() {
        Some(stop) => Err(stop),
        None => result,
    }
}

pub fn slice(memory: &[u8], ptr: i32, len: usize) -> Option<&[u8]> {
    let start = ptr as u32 as usize;
    memory.get(start..start.checked_add(len)?)
}

pub fn read_u32(memory: &[u8], ptr: i32) -> Option<u32> {
    let bytes = slice(memory, ptr, 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

pub fn write_u32(memory: &mut [u8], ptr: i32, value: u32) -> i32 {
    let start = ptr as u32 as usize;
    match memory.get_mut(start..start + 4) {
        Some(out) => {
            out.copy_from_slice(&value.to_le_bytes());
            0
        }
        None => ERRNO_FAULT,
    }
}

/// The (pointer, length) pairs of an iovec array.
pub fn iovecs(memory: &[u8], iovs: i32, len: i32) -> Option<Vec<(i32, usize)>> {
    (0..len as u32)
        .map(|i| {
            let at = (iovs as u32).checked_add(i.checked_mul(8)?)? as i32;
            Some((
                read_u32(memory, at)? as i32,
                read_u32(memory, at + 4)? as usize,
            ))
        })
        .collect()
}

/// Concatenates what an iovec array points at; `None` if any part is out of bounds.
pub fn gather(memory: &[u8], iovs: i32, len: i32) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    for (ptr, n) in iovecs(memory, iovs, len)? {
        data.extend_from_slice(slice(memory, ptr, n)?);
    }
    Some(data)
}
