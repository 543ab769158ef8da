//! Host file I/O every subsystem shares: the one error for "I/O on this path failed" and
//! writing a file whole (a temp file beside it, then a rename).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// A writer killed mid-write (SIGKILL, a crash) leaves its partial file behind; one older
/// than this belongs to no live writer and is removed by the next writer of the same name.
pub const STALE: Duration = Duration::from_secs(3600);

/// The name prefix of partial files for `path`: `.NAME.partial-`.
fn partial_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.partial-")
}

/// A temp file beside `path` (`.NAME.partial-XXXXXX`), to be persisted over it once whole.
/// Partial files of the same name older than `stale` are removed first.
pub fn partial_file(path: &Path, stale: Duration) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    sweep_partials(path, stale);
    tempfile::Builder::new()
        .prefix(&partial_prefix(path))
        .tempfile_in(dir)
}

/// Removes what killed writers left of `path` (partial files, or directories, named
/// [`partial_prefix`]) that were last changed longer than `stale` ago.
pub fn sweep_partials(path: &Path, stale: Duration) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = partial_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let ours = entry.file_name().to_string_lossy().starts_with(&prefix);
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if ours && age.is_some_and(|a| a >= stale) {
            let gone = std::fs::remove_file(entry.path());
            if gone.is_err() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Writes `bytes` to a partial file beside `path`, then renames it over `path`: readers see
/// the old file or the whole new one, and of concurrent writers the last rename wins.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PathError> {
    let write = || -> std::io::Result<()> {
        let mut tmp = partial_file(path, STALE)?;
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

    #[test]
    fn stale_partial_files_of_the_same_name_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
        let make = |name: &str, old: bool| {
            let path = tmp.path().join(name);
            let f = std::fs::File::create(&path).unwrap();
            if old {
                f.set_modified(hour_ago).unwrap();
            }
            path
        };
        let stale = make(".f.partial-dead01", true);
        let live = make(".f.partial-live02", false);
        let other = make(".g.partial-dead03", true);
        write_atomically(&file, b"x").unwrap();
        assert!(!stale.exists());
        assert!(live.exists(), "a writer still at work keeps its file");
        assert!(other.exists(), "another name's partial file is not ours");
        sweep_partials(&file, Duration::ZERO);
        assert!(!live.exists());
    }
}
