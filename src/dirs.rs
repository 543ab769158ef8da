//! Where wasipy keeps its runtime store and its cache, and the variables that move them.

use std::path::PathBuf;

/// Overrides the runtime store's location (default: the user data dir).
pub const HOME_VAR: &str = "WASIPY_HOME";
/// Overrides the cache's location (default: the user cache dir).
pub const CACHE_VAR: &str = "WASIPY_CACHE_DIR";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot tell where the user's {what} directory is (no home directory); set `{var}`")]
    NoHome {
        what: &'static str,
        var: &'static str,
    },
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "wasipy")
}

fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The runtime store's root: `$WASIPY_HOME`, else e.g. `~/.local/share/wasipy`.
pub fn data_home() -> Result<PathBuf, Error> {
    from_env(HOME_VAR)
        .or_else(|| project_dirs().map(|d| d.data_dir().to_owned()))
        .ok_or(Error::NoHome {
            what: "data",
            var: HOME_VAR,
        })
}

/// The cache's root: `$WASIPY_CACHE_DIR`, else e.g. `~/.cache/wasipy`.
pub fn cache_home() -> Result<PathBuf, Error> {
    from_env(CACHE_VAR)
        .or_else(|| project_dirs().map(|d| d.cache_dir().to_owned()))
        .ok_or(Error::NoHome {
            what: "cache",
            var: CACHE_VAR,
        })
}
