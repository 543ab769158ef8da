//! The runtime a new venv gets: the one named, the newest installed of a version, or
//! (neither given) the best one installed, else the catalogue's default.

use super::runtime_add;
use super::runtime_install;
use crate::runtime::catalogue::{version_key, version_matches};
use crate::runtime::{self, Store};
use crate::settings::Settings;

/// The runtime a new venv gets: `--runtime` (an id, or a path to add), `--python` (the
/// newest installed runtime of that version, else the catalogue's), or the default.
pub fn runtime(
    store: &Store,
    runtime: Option<&str>,
    python: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<runtime::Installed> {
    if let Some(spec) = runtime {
        let path = std::path::Path::new(spec);
        if spec.contains('/') || (path.exists() && !store.dir_of(spec).exists()) {
            return match runtime_add::add(store, path, None, settings) {
                Err(runtime_add::Error::Exists { id }) => Ok(store.load(&id)?),
                other => Ok(other?),
            };
        }
        if let Ok(installed) = store.load(spec) {
            return Ok(installed);
        }
        return runtime_install::ensure(store, runtime_install::resolve(Some(spec))?, settings);
    }
    // Of one version: one built by `scripts/build-runtime` (optimised, with a start-up
    // snapshot) first, then the one installed last.
    let fast = |id: &str| {
        let dir = store.dir_of(id);
        let installed_at =
            std::fs::metadata(dir.join(runtime::MANIFEST_FILE)).and_then(|m| m.modified());
        (dir.join(runtime::PREINIT_FILE).is_file(), installed_at.ok())
    };
    let manifests = store.list();
    let installed: Vec<_> = manifests
        .iter()
        .map(|m| (m.id.clone(), m.python_version.clone()))
        .collect();
    let Some(version) = python else {
        // Neither given: the best runtime already installed, else the catalogue's default.
        // A reactor (the scientific runtime: 100 MB, a slower start, a fixed set of native
        // packages) is for venvs that ask for it, so it comes after every general one.
        let reactor = |id: &str| manifests.iter().any(|m| m.id == id && m.reactor.is_some());
        let mut best = ranked(&installed, |_| true, fast);
        best.sort_by_key(|id| reactor(id));
        for id in best {
            if let Ok(found) = store.load(id) {
                eprintln!("wasipy: using runtime {id}, the newest installed (`--runtime ID` or `--python X.Y` picks another)");
                return Ok(found);
            }
        }
        return runtime_install::ensure(store, runtime::catalogue_entry(None)?, settings);
    };
    let matches = |v: &str| version_matches(v, version);
    if let Some(best) = ranked(&installed, matches, fast).first() {
        return Ok(store.load(best)?);
    }
    // Not installed: the catalogue's newest of that version, built ones first.
    let entry = runtime_install::newest_of(version).ok_or_else(|| {
        anyhow::anyhow!("no runtime for Python {version} is installed or known; add one with `wasipy runtime add PATH`")
    })?;
    runtime_install::ensure(store, entry, settings)
}

/// The ids of `installed` runtimes (`(id, version)`) whose version `matches`, best first:
/// the newest version, then by `rank` (see [`runtime`]: a fast one, the latest
/// installed).
fn ranked<K: Ord>(
    installed: &[(String, String)],
    matches: impl Fn(&str) -> bool,
    rank: impl Fn(&str) -> K,
) -> Vec<&str> {
    let mut found: Vec<_> = installed
        .iter()
        .filter(|(_, version)| matches(version))
        .map(|(id, version)| (version_key(version), rank(id), id.as_str()))
        .collect();
    found.sort();
    found.into_iter().rev().map(|(_, _, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_installed_runtime_first_and_a_fast_one_of_a_version() {
        let installed: Vec<(String, String)> = [
            ("cpython-3.12.0-wlr", "3.12.0"),
            ("cpython-3.13.5-built", "3.13.5"),
            ("cpython-3.13.5-other", "3.13.5"),
            ("cpython-3.13.10-x", "3.13.10"),
        ]
        .iter()
        .map(|(i, v)| (i.to_string(), v.to_string()))
        .collect();
        let fast = |id: &str| (id.ends_with("built"), 0);
        let any = |_: &str| true;
        assert_eq!(
            ranked(&installed, any, fast),
            [
                "cpython-3.13.10-x",
                "cpython-3.13.5-built",
                "cpython-3.13.5-other",
                "cpython-3.12.0-wlr"
            ]
        );
        let only_313_5 = |v: &str| v == "3.13.5";
        assert_eq!(
            ranked(&installed, only_313_5, fast)[0],
            "cpython-3.13.5-built"
        );
        assert!(ranked(&[], any, fast).is_empty());
    }
}
