//! Where wasipy keeps its runtime store and its cache, and the variables that move them.

use std::path::PathBuf;

/// Overrides the runtime store's location (default: the user data dir).
pub const HOME_VAR: &str = "WASIPY_HOME";
/// Overrides the cache's location (default: the user cache dir).
pub const CACHE_VAR: &str = "WASIPY_CACHE_DIR";

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("cannot tell where the user's {what} directory is (no home directory); set `{var}`")]
    NoHome {
        what: &'static str,
        var: &'static str,
    },
}

/// A lookup of environment variables by name.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "wasipy")
}

/// The runtime store's root: `$WASIPY_HOME`, else e.g. `~/.local/share/wasipy`.
pub fn data_home(vars: Vars) -> Result<PathBuf, Error> {
    located(vars, HOME_VAR, "data", |d| d.data_dir().to_owned())
}

/// The cache's root: `$WASIPY_CACHE_DIR`, else e.g. `~/.cache/wasipy`.
pub fn cache_home(vars: Vars) -> Result<PathBuf, Error> {
    located(vars, CACHE_VAR, "cache", |d| d.cache_dir().to_owned())
}

/// `var` if set and non-empty, else the platform's directory of that kind.
fn located(
    vars: Vars,
    var: &'static str,
    what: &'static str,
    pick: fn(&directories::ProjectDirs) -> PathBuf,
) -> Result<PathBuf, Error> {
    vars(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| project_dirs().map(|d| pick(&d)))
        .ok_or(Error::NoHome { what, var })
}
