//! Directory listings read once per `opendir`, not once per buffer refill.
//!
//! wasmtime-wasi's `fd_readdir` reads the whole directory and stats every entry on each
//! call, then skips to the cookie; wasi-libc refills a 4 KiB buffer, so listing a
//! directory of n entries cost O(n²) stats (1,696 `statx` calls for `python -c pass`).
//! The shadow here asks wasmtime-wasi for the whole listing once, at cookie 0, and serves
//! later cookies from that copy, byte for byte what wasmtime-wasi would have written.

use std::collections::HashMap;

/// The size of a WASI `dirent` header before its name.
const DIRENT_HEADER: usize = 24;

/// One directory's serialized entries, as wasmtime-wasi writes them from cookie 0, with the
/// offset of each entry (entry `c` is where cookie `c` starts).
#[derive(Debug, Default, PartialEq)]
pub struct Listing {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Listing {
    /// Splits a complete listing into entries; None if it is not a whole number of them.
    pub fn parse(bytes: Vec<u8>) -> Option<Self> {
        let mut offsets = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let header = bytes.get(at..at + DIRENT_HEADER)?;
            let namlen = u32::from_le_bytes(header[16..20].try_into().ok()?) as usize;
            offsets.push(at);
            at = at.checked_add(DIRENT_HEADER + namlen)?;
        }
        (at == bytes.len()).then_some(Self { bytes, offsets })
    }

    /// What `fd_readdir(cookie, buf_len)` returns: the entries from `cookie` on, cut at
    /// `buf_len` bytes (a cut entry tells wasi-libc to retry with a bigger buffer).
    pub fn serve(&self, cookie: u64, buf_len: usize) -> &[u8] {
        let start = usize::try_from(cookie)
            .ok()
            .and_then(|c| self.offsets.get(c).copied())
            .unwrap_or(self.bytes.len());
        let rest = &self.bytes[start..];
        &rest[..rest.len().min(buf_len)]
    }
}

/// The listings being read, by descriptor.
pub type Listings = HashMap<u32, Listing>;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(next: u64, name: &str) -> Vec<u8> {
        let mut bytes = next.to_le_bytes().to_vec();
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[4, 0, 0, 0]);
        bytes.extend_from_slice(name.as_bytes());
        bytes
    }

    fn listing(names: &[&str]) -> (Vec<u8>, Listing) {
        let bytes: Vec<u8> = names
            .iter()
            .enumerate()
            .flat_map(|(i, n)| entry(i as u64 + 1, n))
            .collect();
        (bytes.clone(), Listing::parse(bytes).unwrap())
    }

    #[test]
    fn cookies_start_at_their_entry() {
        let (bytes, listing) = listing(&[".", "..", "os.py", "encodings"]);
        let cases = [
            (0, 4096, &bytes[..]),
            (2, 4096, &bytes[25 + 26..]),
            (3, 4096, &bytes[25 + 26 + 29..]),
            (4, 4096, &[][..]),
            (99, 4096, &[][..]),
            (0, 30, &bytes[..30]),
            (2, 10, &bytes[51..61]),
        ];
        for (cookie, buf_len, want) in cases {
            assert_eq!(listing.serve(cookie, buf_len), want, "cookie {cookie}");
        }
    }

    #[test]
    fn rejects_partial_entries() {
        let (bytes, _) = listing(&[".", "..", "os.py"]);
        assert!(Listing::parse(bytes[..bytes.len() - 1].to_vec()).is_none());
        assert!(Listing::parse(bytes[..30].to_vec()).is_none());
        assert_eq!(Listing::parse(Vec::new()), Some(Listing::default()));
    }
}
