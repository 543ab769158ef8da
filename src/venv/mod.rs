//! wasipy virtual environments: finding a venv from the path its `python` was invoked by,
//! reading its settings, and (in the submodules) creating one: the PEP 405 layout,
//! `pyvenv.cfg`, activation scripts, pip, and the registry of venvs wasipy made.

pub mod activation;
pub mod bundled;
pub mod create;
pub mod pip;
pub mod pyvenv_cfg;
pub mod registry;
pub mod wheel;

use crate::fsio::PathError;
use crate::guest::limits::Limits;
use crate::guest::{network, sandbox};
use pyvenv_cfg::PyvenvCfg;
use std::path::{Path, PathBuf};

/// `pyvenv.cfg` key naming the wasipy version that wrote the venv.
pub const KEY_WASIPY: &str = "wasipy";
/// `pyvenv.cfg` key naming the runtime (an id in the runtime store).
pub const KEY_RUNTIME: &str = "wasipy-runtime";
/// `pyvenv.cfg` key for guest network access: `on` (default), `off`, or host names.
pub const KEY_NETWORK: &str = "wasipy-network";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` exists and is not a virtual environment (no pyvenv.cfg); choose another directory")]
    NotAVenv { path: PathBuf },
    #[error("`{path}` is a virtual environment wasipy did not make (no `{KEY_RUNTIME}` in pyvenv.cfg); remove it first or choose another directory")]
    Foreign { path: PathBuf },
    #[error(transparent)]
    Io(#[from] PathError),
    #[error("`{exe}` is not inside a wasipy venv (no pyvenv.cfg beside it or in its parent); create one with `wasipy venv DIR`")]
    NotFound { exe: PathBuf },
    #[error(transparent)]
    Cfg(#[from] pyvenv_cfg::Error),
    #[error(transparent)]
    Pip(#[from] pip::Error),
    #[error(transparent)]
    Wheel(#[from] wheel::Error),
    #[error("`{path}` names no runtime (`{KEY_RUNTIME} = ID` is missing); recreate the venv with `wasipy venv --clear {venv}`")]
    NoRuntime { path: PathBuf, venv: PathBuf },
    #[error("`{path}`: {source}")]
    Limit {
        path: PathBuf,
        source: crate::guest::limits::Error,
    },
    #[error("byte-compiling `{path}` failed ({status}); the venv works, but starts slower until its files are compiled")]
    Compile { path: PathBuf, status: String },
}

/// An existing venv.
#[derive(Debug, Clone)]
pub struct Venv {
    pub dir: PathBuf,
    pub cfg: PyvenvCfg,
}

impl Venv {
    /// Opens the venv rooted at `dir` (reads its `pyvenv.cfg`).
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let cfg = PyvenvCfg::read(&dir.join(pyvenv_cfg::FILE_NAME))?;
        Ok(Self {
            dir: dir.to_owned(),
            cfg,
        })
    }

    /// Whether the sandbox profile is on (`wasipy-sandbox = true`).
    pub fn sandboxed(&self) -> bool {
        self.cfg.get(sandbox::KEY_SANDBOX).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "on" | "1"
            )
        })
    }

    /// Which hosts guest code may reach through the bridge.
    pub fn network(&self) -> network::Policy {
        network::Policy::parse(self.cfg.get(KEY_NETWORK).unwrap_or("on"))
    }

    /// What this venv's runs may consume: the profile's defaults and the keys set.
    pub fn limits(&self) -> Result<Limits, Error> {
        Limits::from_cfg(|key| self.cfg.get(key), self.sandboxed()).map_err(|source| Error::Limit {
            path: self.dir.join(pyvenv_cfg::FILE_NAME),
            source,
        })
    }

    /// The runtime id this venv runs.
    pub fn runtime_id(&self) -> Result<&str, Error> {
        self.cfg
            .get(KEY_RUNTIME)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::NoRuntime {
                path: self.dir.join(pyvenv_cfg::FILE_NAME),
                venv: self.dir.clone(),
            })
    }
}

/// The venv an interpreter at `exe` belongs to: `pyvenv.cfg` beside it or one level up
/// (PEP 405), judged by the path itself, symlinks unresolved.
pub fn venv_of(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    [Some(bin), bin.parent()]
        .into_iter()
        .flatten()
        .find(|dir| dir.join(pyvenv_cfg::FILE_NAME).is_file())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_of_looks_beside_and_one_up() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().join("v");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        assert_eq!(venv_of(&venv.join("bin/python")), None);
        std::fs::write(venv.join("pyvenv.cfg"), "home = /x\n").unwrap();
        assert_eq!(venv_of(&venv.join("bin/python")), Some(venv.clone()));
        std::fs::write(venv.join("bin/pyvenv.cfg"), "home = /x\n").unwrap();
        assert_eq!(venv_of(&venv.join("bin/python")), Some(venv.join("bin")));
    }
}
