//! Non-seekable files opened by path (FIFOs above all: an editor's test-results pipe) as
//! streams. wasmtime-wasi reads and writes files at a position (`pread`/`pwrite`), which a
//! FIFO refuses with `ESPIPE`; the descriptor it opened stays the guest's, and on that
//! refusal the bridge opens the same file again beneath its mount and reads or writes it
//! in sequence, as a native descriptor would. Nothing is done for an open that never meets
//! `ESPIPE`, so ordinary files cost one small record per open.

use super::fs::Table;
use cap_primitives::ambient_authority;
use cap_primitives::fs::{open, open_ambient_dir, OpenOptions, OpenOptionsExt};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// WASI errno `spipe`: what wasmtime-wasi answers for a positional call on a FIFO.
pub const ERRNO_SPIPE: i32 = 70;

/// The host ends of one guest descriptor's stream, opened as the guest first reads or writes.
#[derive(Default)]
struct Stream {
    reader: Option<File>,
    writer: Option<File>,
}

/// What the bridge knows of descriptors opened by path: where they were opened (mount and
/// path inside it), and the streams made of them.
#[derive(Default)]
pub struct Streams {
    opened: HashMap<u32, (usize, String)>,
    streams: HashMap<u32, Stream>,
}

impl Streams {
    /// Notes that guest descriptor `fd` is `rel` inside mount `mount`.
    pub fn opened(&mut self, fd: u32, mount: usize, rel: &[u8]) {
        if let Ok(rel) = std::str::from_utf8(rel) {
            self.opened.insert(fd, (mount, rel.to_owned()));
        }
    }

    pub fn closed(&mut self, fd: u32) {
        self.opened.remove(&fd);
        self.streams.remove(&fd);
    }

    /// Whether `fd` is already a stream (its reads and writes skip wasmtime-wasi).
    pub fn is_stream(&self, fd: u32) -> bool {
        self.streams.contains_key(&fd)
    }

    /// Writes `data` to stream `fd`, making it one if its file is not seekable; None if it
    /// is not a stream. `Err` is a WASI errno.
    pub fn write(&mut self, table: &Table, fd: u32, data: &[u8]) -> Option<Result<usize, i32>> {
        let file = self.end(table, fd, true)?;
        Some(retry_eintr(|| file.write(data)))
    }

    /// Reads into `buf` from stream `fd`, as [`Streams::write`].
    pub fn read(&mut self, table: &Table, fd: u32, buf: &mut [u8]) -> Option<Result<usize, i32>> {
        let file = self.end(table, fd, false)?;
        Some(retry_eintr(|| file.read(buf)))
    }

    /// The host file behind `fd` for writing or reading, opened the first time; None if
    /// `fd` was not opened by path or its file can be read at a position.
    fn end(&mut self, table: &Table, fd: u32, write: bool) -> Option<&mut File> {
        if !self.streams.contains_key(&fd) {
            let file = self.reopen(table, fd, write)?;
            if !not_seekable(&file) {
                return None;
            }
            let mut stream = Stream::default();
            *stream.end(write) = Some(file);
            self.streams.insert(fd, stream);
        }
        if self.streams.get_mut(&fd)?.end(write).is_none() {
            let file = self.reopen(table, fd, write)?;
            *self.streams.get_mut(&fd)?.end(write) = Some(file);
        }
        self.streams.get_mut(&fd)?.end(write).as_mut()
    }

    fn reopen(&self, table: &Table, fd: u32, write: bool) -> Option<File> {
        let (mount, rel) = self.opened.get(&fd)?;
        reopen(&table.mounts.get(*mount)?.host, rel, write).ok()
    }
}

impl Stream {
    fn end(&mut self, write: bool) -> &mut Option<File> {
        match write {
            true => &mut self.writer,
            false => &mut self.reader,
        }
    }
}

/// Opens `rel` beneath mount directory `host` again, for reading or writing. The guest's own
/// descriptor holds the FIFO open, so this open does not wait for the other end; it is made
/// non-blocking only to be sure, then blocking again, as the guest's descriptor is.
fn reopen(host: &Path, rel: &str, write: bool) -> std::io::Result<File> {
    let root = open_ambient_dir(host, ambient_authority())?;
    let mut options = OpenOptions::new();
    options.read(!write).write(write);
    let file = match open(
        &root,
        Path::new(rel),
        options.clone().custom_flags(libc::O_NONBLOCK),
    ) {
        Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
            open(&root, Path::new(rel), &options)?
        }
        other => other?,
    };
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    Ok(file)
}

fn not_seekable(file: &File) -> bool {
    file.metadata().is_ok_and(|m| {
        let kind = m.file_type();
        kind.is_fifo() || kind.is_socket() || kind.is_char_device()
    })
}

fn retry_eintr(mut op: impl FnMut() -> std::io::Result<usize>) -> Result<usize, i32> {
    loop {
        match op() {
            Ok(n) => return Ok(n),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(super::errno::wasi(&err, 29)), // else `io`
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::mounts::{Access, Mount};

    #[test]
    fn a_fifo_becomes_a_stream_and_a_regular_file_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        std::fs::write(tmp.path().join("plain"), "x").unwrap();
        let table = Table {
            mounts: vec![Mount {
                host: tmp.path().to_owned(),
                guest: "/m".into(),
                access: Access::ReadWrite,
            }],
            shadowed: vec![],
        };
        let reader = std::thread::spawn(move || std::fs::read(fifo).unwrap());
        // The guest's own descriptor, as wasmtime-wasi would hold it.
        let _guest = std::fs::OpenOptions::new()
            .write(true)
            .open(tmp.path().join("fifo"))
            .unwrap();
        let mut streams = Streams::default();
        streams.opened(7, 0, b"fifo");
        streams.opened(8, 0, b"plain");
        assert_eq!(
            streams.write(&table, 7, b"Content-Length: 2\r\n\r\n{}"),
            Some(Ok(23))
        );
        assert!(streams.is_stream(7));
        assert_eq!(streams.write(&table, 8, b"y"), None);
        assert!(!streams.is_stream(8));
        assert_eq!(streams.write(&table, 9, b"y"), None);
        streams.closed(7);
        drop(_guest);
        assert_eq!(reader.join().unwrap(), b"Content-Length: 2\r\n\r\n{}");
    }
}
