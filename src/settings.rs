//! wasipy's own settings, read from the environment once, at the entry point (the launcher
//! or the CLI), and passed down as one value.

use crate::dirs;
use std::path::{Path, PathBuf};

/// `WASIPY_LOG=debug` prints where start-up time goes.
pub const LOG_VAR: &str = "WASIPY_LOG";
/// Set (to anything) to profile the guest with `perf` (see the README's Benchmarks).
pub const PERFMAP_VAR: &str = "WASIPY_PERFMAP";
/// `WASIPY_COMPILE=foreground`: a first run compiles the optimised module itself and waits
/// for it, instead of starting on the quick one.
pub const COMPILE_VAR: &str = "WASIPY_COMPILE";
/// `WASIPY_SNAPSHOT=off`: every guest starts the interpreter afresh, as on runtimes without
/// a start-up snapshot (to rule the snapshot out when something behaves oddly).
pub const SNAPSHOT_VAR: &str = "WASIPY_SNAPSHOT";
/// Extra sandbox mounts and environment variables, added to `pyvenv.cfg`'s lists.
pub const MOUNTS_VAR: &str = "WASIPY_MOUNTS";
pub const ENV_VAR: &str = "WASIPY_ENV";
/// A JSON file of more runtimes for the catalogue (a team's own builds and their pins).
pub const CATALOGUE_VAR: &str = "WASIPY_CATALOGUE";

/// How the engine compiles and starts guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Compile what is missing now rather than in the background.
    pub foreground: bool,
    /// Resume start-up snapshots where the runtime has one.
    pub snapshot: bool,
    /// Name the guest's functions for `perf` (`/tmp/perf-PID.map`).
    pub perfmap: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            foreground: false,
            snapshot: true,
            perfmap: false,
        }
    }
}

/// Everything wasipy reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WASIPY_LOG=debug`.
    pub log: bool,
    pub engine: EngineSettings,
    data_home: Result<PathBuf, dirs::Error>,
    cache_home: Result<PathBuf, dirs::Error>,
    /// `WASIPY_MOUNTS`, `WASIPY_ENV`: the sandbox's extra lists.
    pub sandbox_mounts: String,
    pub sandbox_env: String,
    /// `WASIPY_CATALOGUE`: more catalogue runtimes (see `runtime::catalogue::init`).
    pub catalogue: Option<PathBuf>,
    /// `VIRTUAL_ENV`: the activated venv, for commands that take one (`doctor`, `pack`).
    pub virtual_env: Option<PathBuf>,
}

impl Settings {
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings `var` gives (a lookup of variables by name).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let vars: dirs::Vars = &var;
        let is = |name: &str, value: &str| var(name).is_some_and(|v| v == value);
        Self {
            log: is(LOG_VAR, "debug"),
            engine: EngineSettings {
                foreground: is(COMPILE_VAR, "foreground"),
                snapshot: !is(SNAPSHOT_VAR, "off"),
                perfmap: var(PERFMAP_VAR).is_some(),
            },
            data_home: dirs::data_home(vars),
            cache_home: dirs::cache_home(vars),
            sandbox_mounts: var(MOUNTS_VAR).unwrap_or_default(),
            sandbox_env: var(ENV_VAR).unwrap_or_default(),
            catalogue: var(CATALOGUE_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            virtual_env: var("VIRTUAL_ENV")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The runtime store's and the venv registry's root (`WASIPY_HOME`).
    pub fn data_home(&self) -> Result<&Path, dirs::Error> {
        self.data_home.as_deref().map_err(Clone::clone)
    }

    /// The cache's root (`WASIPY_CACHE_DIR`).
    pub fn cache_home(&self) -> Result<&Path, dirs::Error> {
        self.cache_home.as_deref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_map_to_settings() {
        type Case<'a> = (&'a [(&'a str, &'a str)], EngineSettings, bool);
        let cases: &[Case] = &[
            (&[], EngineSettings::default(), false),
            (
                &[(COMPILE_VAR, "foreground"), (SNAPSHOT_VAR, "off")],
                EngineSettings {
                    foreground: true,
                    snapshot: false,
                    perfmap: false,
                },
                false,
            ),
            (
                &[
                    (COMPILE_VAR, "later"),
                    (PERFMAP_VAR, ""),
                    (LOG_VAR, "debug"),
                ],
                EngineSettings {
                    perfmap: true,
                    ..EngineSettings::default()
                },
                true,
            ),
            (
                &[(SNAPSHOT_VAR, "on"), (LOG_VAR, "info")],
                EngineSettings::default(),
                false,
            ),
        ];
        for (vars, engine, log) in cases {
            let lookup = |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            };
            let settings = Settings::from_vars(lookup);
            assert_eq!(settings.engine, *engine, "{vars:?}");
            assert_eq!(settings.log, *log, "{vars:?}");
        }
    }
}
