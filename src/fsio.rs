//! Host file I/O every subsystem shares: the one error for "I/O on this path failed" and
//! writing a file whole (a temp file beside it, then a rename).

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O error on a named path: `cannot <action> `<path>`: <cause>`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`: {source}", path.display())]
pub struct PathError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl PathError {
    pub fn new(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// For `map_err`: a failed write to `path`.
pub fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> PathError + '_ {
    move |source| PathError::new("write", path, source)
}

/// For `map_err`: a failed read of `path`.
pub fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> PathError + '_ {
    move |source| PathError::new("read", path, source)
}

/// Writes `bytes` to a temp file beside `path`, then renames it over `path`: readers see the
/// old file or the whole new one, and of concurrent writers the last rename wins.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PathError> {
    let write = || -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_data()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(write_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_errors_name_the_action_path_and_cause() {
        let err = PathError::new(
            "write",
            Path::new("/x/y"),
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot write `/x/y`: No space left"),
            "{text}"
        );
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sub/f");
        write_atomically(&file, b"one").unwrap();
        write_atomically(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
