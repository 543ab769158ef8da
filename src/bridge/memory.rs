//! Reading and writing the guest's linear memory for the shadowed WASI calls: bounds-checked
//! slices, little-endian words and iovec arrays.

/// WASI errno `fault`: a pointer outside the guest's memory.
pub const ERRNO_FAULT: i32 = 21;

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
