//! The guest's view of the host filesystem: the run's mounts, which guest path lies in
//! which, and which preopen descriptor is which mount.

use crate::guest::mounts::Mount;
use std::path::Path;

/// The guest's view of the host filesystem.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub mounts: Vec<Mount>,
    /// Guest directories owned by the runtime's embedded filesystem: nothing on the host
    /// stands behind them unless a mount inside them says so.
    pub shadowed: Vec<String>,
}

/// wasmtime-wasi numbers preopens from 3 in the order they were added: the mounts', in order.
pub const FIRST_PREOPEN: u32 = 3;

impl Table {
    /// The mount behind normalized absolute guest path `guest` (the longest that holds it,
    /// unless the runtime's embedded filesystem claims the path) and the path inside it.
    pub fn mount_of(&self, guest: &str) -> Option<(usize, String)> {
        let guest = Path::new(guest);
        let (index, mount) = self
            .mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| guest.starts_with(&m.guest))
            .max_by_key(|(_, m)| m.guest.len())?;
        let shadow = self
            .shadowed
            .iter()
            .filter(|s| guest.starts_with(s))
            .map(String::len)
            .max();
        if shadow.is_some_and(|s| mount.guest.len() <= s) {
            return None;
        }
        let rest = guest.strip_prefix(&mount.guest).ok()?;
        Some((index, rest.to_str()?.to_owned()))
    }

    /// The mount whose preopen is wasmtime descriptor `fd`.
    pub fn mount_at(&self, fd: i32) -> Option<usize> {
        let index = u32::try_from(fd).ok()?.checked_sub(FIRST_PREOPEN)? as usize;
        (index < self.mounts.len()).then_some(index)
    }
}
