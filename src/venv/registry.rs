//! The venvs wasipy created (`$WASIPY_HOME/venvs.txt`, one absolute path per line), so that
//! `runtime remove` can refuse to remove a runtime a venv still uses.

use super::{pyvenv_cfg, Venv};
use crate::fsio::{self, PathError};
use std::path::{Path, PathBuf};

/// The registry in wasipy's data directory.
pub struct Registry {
    file: PathBuf,
}

impl Registry {
    pub fn in_home(data_home: &Path) -> Self {
        Self {
            file: data_home.join("venvs.txt"),
        }
    }

    /// Remembers a venv wasipy created; forgets recorded ones that are gone.
    pub fn record(&self, venv: &Path) -> Result<(), PathError> {
        let mut known = self.read();
        if known.iter().any(|p| p == venv) {
            return Ok(());
        }
        known.push(venv.to_owned());
        known.retain(|p| p.join(pyvenv_cfg::FILE_NAME).is_file());
        let text: String = known.iter().map(|p| format!("{}\n", p.display())).collect();
        fsio::write_atomically(&self.file, text.as_bytes())
    }

    /// The recorded venvs that still exist and name runtime `id`.
    pub fn using(&self, id: &str) -> Vec<PathBuf> {
        self.read()
            .into_iter()
            .filter(|dir| {
                Venv::open(dir)
                    .ok()
                    .is_some_and(|v| v.runtime_id().ok() == Some(id))
            })
            .collect()
    }

    fn read(&self) -> Vec<PathBuf> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_venvs_once_and_finds_their_users() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::in_home(&tmp.path().join("home"));
        let venv = |name: &str, runtime: &str| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let cfg = format!("wasipy-runtime = {runtime}\n");
            std::fs::write(dir.join(pyvenv_cfg::FILE_NAME), cfg).unwrap();
            dir
        };
        let (a, b) = (venv("a", "rt-1"), venv("b", "rt-2"));
        for dir in [&a, &b, &a] {
            registry.record(dir).unwrap();
        }
        assert_eq!(registry.read(), vec![a.clone(), b.clone()]);
        assert_eq!(registry.using("rt-1"), vec![a]);
        std::fs::remove_dir_all(&b).unwrap();
        assert!(registry.using("rt-2").is_empty());
    }
}
