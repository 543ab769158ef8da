//! `wasipy runtime add` and `remove`: a runtime a user brings is unpacked into the store,
//! described by running it once (version, platform, stdlib location), and its on-disk
//! stdlib compiled to bytecode once; removing one is refused while a venv uses it.

use crate::engine::{self, cache::Cache, run};
use crate::fsio::{self, PathError};
use crate::guest::mounts::{self, Access};
use crate::guest::Guest;
use crate::runtime::{
    archive, Embedded, Installed, Manifest, Stamp, Store, MANIFEST_FILE, WASM_FILE,
};
use crate::settings::Settings;
use crate::timer::Timer;
use crate::venv::registry::Registry;
use crate::{dirs, runtime};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Asks the runtime what it is. `-I`: nothing from the environment or a venv.
const PROBE: &str = r#"
import json, os, sys, sysconfig
stdlib = sysconfig.get_paths()["stdlib"]
parents, p = [], os.path.dirname(stdlib)
while p not in ("/", ""):
    parents.append(p)
    p = os.path.dirname(p)
listings = {}
for p in parents:
    try:
        listings[p] = sorted(os.listdir(p))
    except OSError:
        listings[p] = None
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "platform": sysconfig.get_platform(),
                  "implementation": sys.implementation.name, "stdlib": stdlib, "listings": listings}))
"#;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Archive(#[from] archive::Error),
    #[error(transparent)]
    Runtime(#[from] runtime::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Dirs(#[from] dirs::Error),
    #[error(transparent)]
    Io(#[from] PathError),
    #[error("`{path}` did not run as CPython for WASI: {reason}")]
    NotPython { path: PathBuf, reason: String },
    #[error("runtime `{id}` already exists; pass `--id` with another name, or remove it first")]
    Exists { id: String },
    #[error("runtime `{id}` is used by {}; remove those venvs first or pass `--force`", list(.venvs))]
    InUse { id: String, venvs: Vec<PathBuf> },
    #[error("runtime `{id}` is not installed (`wasipy runtime list` shows what is)")]
    NotInstalled { id: String },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Deserialize)]
struct Probe {
    version: String,
    platform: String,
    implementation: String,
    stdlib: String,
    listings: std::collections::BTreeMap<String, Option<Vec<String>>>,
}

/// Adds the runtime at `source` to `store` as `id` (default `cpython-X.Y.Z-<sha prefix>`).
pub fn add(
    store: &Store,
    source: &Path,
    id: Option<&str>,
    settings: &Settings,
) -> Result<Installed, Error> {
    add_from(store, source, id, None, settings)
}

/// [`add`], recording `origin` (a URL, a build) as where it came from instead of `source`.
pub fn add_from(
    store: &Store,
    source: &Path,
    id: Option<&str>,
    origin: Option<&str>,
    settings: &Settings,
) -> Result<Installed, Error> {
    std::fs::create_dir_all(store.root()).map_err(fsio::write_err(store.root()))?;
    let staging = tempfile::Builder::new()
        .prefix(".add-")
        .tempdir_in(store.root())
        .map_err(fsio::write_err(store.root()))?;
    let provisional = unpack(source, staging.path(), id, origin)?;
    eprintln!(
        "wasipy: running `{}` once to see what it is",
        source.display()
    );
    let runner = Runner::new(provisional, settings).map_err(|e| not_wasm(e, source))?;
    let mut manifest = describe(&runner, source)?;
    let dest = store.dir_of(&manifest.id);
    if dest.exists() {
        return Err(Error::Exists { id: manifest.id });
    }
    if let Some(rel) = &manifest.stdlib {
        compile_stdlib(&runner, rel, &manifest.python_version)?;
    } else if manifest.embedded.is_some() {
        manifest.stdlib = extract_stdlib(&runner, staging.path())?;
    }
    let path = staging.path().join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    std::fs::write(&path, json).map_err(fsio::write_err(&path))?;
    let staged = staging.keep();
    std::fs::rename(&staged, &dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        PathError::new("write", &dest, e)
    })?;
    Ok(store.load(&manifest.id)?)
}

/// Unpacks `source` into `staging` and describes what is known before running it.
fn unpack(
    source: &Path,
    staging: &Path,
    id: Option<&str>,
    origin: Option<&str>,
) -> Result<Installed, Error> {
    let unpacked = archive::unpack(source, staging, WASM_FILE)?;
    let wasm = staging.join(WASM_FILE);
    let sha256 = runtime::sha256_file(&wasm).map_err(fsio::read_err(&wasm))?;
    let manifest = Manifest {
        id: id.map(str::to_owned).unwrap_or_default(),
        python_version: String::new(),
        sha256,
        size: std::fs::metadata(&wasm)
            .map_err(fsio::read_err(&wasm))?
            .len(),
        guest_home: "/usr/local/bin".into(),
        embedded: None,
        reactor: None,
        platform: String::new(),
        stdlib: unpacked.stdlib,
        source: origin.map(str::to_owned).unwrap_or_else(|| {
            let path = std::path::absolute(source).unwrap_or_else(|_| source.to_owned());
            path.display().to_string()
        }),
        stamp: Stamp::of(&wasm).map_err(fsio::read_err(&wasm))?,
    };
    Ok(Installed {
        manifest,
        wasm,
        dir: staging.to_owned(),
    })
}

/// A compile failure means the file is not wasm at all: say so about the file given.
fn not_wasm(err: Error, source: &Path) -> Error {
    match err {
        Error::Engine(engine::Error::Compile { reason, .. }) => Error::NotPython {
            path: source.to_owned(),
            reason: format!(
                "it is not a WebAssembly module wasmtime can compile ({})",
                reason.lines().next().unwrap_or("").trim()
            ),
        },
        other => other,
    }
}

/// The provisional manifest completed from what the runtime says of itself.
fn describe(runner: &Runner, source: &Path) -> Result<Manifest, Error> {
    let probed = probe(runner)?;
    if probed.implementation != "cpython" {
        return Err(Error::NotPython {
            path: source.to_owned(),
            reason: format!("it reports implementation `{}`", probed.implementation),
        });
    }
    let mut manifest = runner.installed.manifest.clone();
    manifest.python_version = probed.version.clone();
    manifest.platform = probed.platform.clone();
    if manifest.stdlib.is_none() {
        manifest.embedded = embedded_root(&probed);
    }
    if manifest.id.is_empty() {
        manifest.id = format!("cpython-{}-{}", probed.version, &manifest.sha256[..8]);
    }
    Ok(manifest)
}

/// A runtime being added, compiled once for all the runs `add` makes.
pub struct Runner {
    installed: Installed,
    code: std::sync::Arc<engine::cache::Code>,
}

impl Runner {
    pub fn new(installed: Installed, settings: &Settings) -> Result<Self, Error> {
        let cache = Cache::new(&installed, settings.cache_home()?, settings.engine);
        let code = cache.load(&Timer::off())?;
        Ok(Self { installed, code })
    }

    /// Runs `python ARGS` with stdout captured; `writable_stdlib` maps its stdlib read-write.
    fn run(&self, args: &[&str], writable_stdlib: bool) -> Result<(i32, Vec<u8>), Error> {
        let mut mounts = mounts::transparent(None);
        mounts.extend(self.installed.stdlib_mount().map(|mut m| {
            if writable_stdlib {
                m.access = Access::ReadWrite;
            }
            m
        }));
        let mut argv = vec![format!("{}/python3", self.installed.guest_home())];
        argv.extend(args.iter().map(|a| a.to_string()));
        let guest = Guest {
            argv,
            mounts,
            ..Guest::default()
        };
        Ok(run::capture(&self.code, guest)?)
    }
}

fn probe(runner: &Runner) -> Result<Probe, Error> {
    let not_python = |reason: String| Error::NotPython {
        path: runner.installed.wasm.clone(),
        reason,
    };
    let (code, out) = runner.run(&["-I", "-c", PROBE], false)?;
    if code != 0 {
        return Err(not_python(format!("the probe exited with {code}")));
    }
    serde_json::from_slice(&out).map_err(|e| not_python(format!("unexpected probe output ({e})")))
}

/// For a stdlib the guest sees but the host does not have: the outermost directory whose
/// guest listing differs from the host's is the one the embedded filesystem claims.
fn embedded_root(probe: &Probe) -> Option<Embedded> {
    let owned = Path::new(&probe.stdlib)
        .parent()?
        .to_string_lossy()
        .into_owned();
    let root = probe
        .listings
        .iter()
        .filter(|(path, guest)| {
            let host: Option<Vec<String>> = std::fs::read_dir(path).ok().map(|rd| {
                let mut names: Vec<String> = rd
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect();
                names.sort();
                names
            });
            host != **guest
        })
        .map(|(path, _)| path.clone())
        .min_by_key(String::len)?;
    Some(Embedded {
        root,
        paths: vec![owned],
    })
}

/// Copies the stdlib embedded in the runtime (`sys.prefix/lib`: the stdlib zip, the
/// `pythonX.Y` directory) to `DEST`, the zip unpacked into `pythonX.Y/`; prints that
/// directory's name. Run once, at install.
const EXTRACT: &str = r#"
import os, shutil, sys, zipfile
source, dest = os.path.join(sys.prefix, "lib"), sys.argv[1]
stdlib = "python%d.%d" % sys.version_info[:2]
for root, dirs, files in os.walk(source):
    here = os.path.join(dest, os.path.relpath(root, source))
    os.makedirs(here, exist_ok=True)
    for name in files:
        path = os.path.join(root, name)
        if name == "python%d%d.zip" % sys.version_info[:2]:
            zipfile.ZipFile(path).extractall(os.path.join(dest, stdlib))
        else:
            shutil.copyfile(path, os.path.join(here, name))
print(stdlib)
"#;

/// Extracts a runtime's embedded stdlib into `dir/lib` (written to a temporary directory,
/// then renamed), so its guests see it at its host path, where editors and tracebacks find
/// it; returns its path relative to `dir` (`lib/python3.12`).
pub fn extract_stdlib(runner: &Runner, dir: &Path) -> Result<Option<String>, Error> {
    let lib = dir.join("lib");
    let staging = tempfile::Builder::new()
        .prefix(".lib.partial-")
        .tempdir_in(dir)
        .map_err(fsio::write_err(dir))?;
    let target = staging.path().to_string_lossy().into_owned();
    let (code, out) = runner.run(&["-I", "-c", EXTRACT, &target], false)?;
    let name = String::from_utf8_lossy(&out).trim().to_owned();
    let landmark = |f: &str| staging.path().join(&name).join(f).is_file();
    if code != 0 || name.is_empty() || !(landmark("os.py") || landmark("os.pyc")) {
        eprintln!("wasipy: warning: the runtime's embedded stdlib could not be copied out (exit {code}); its guests read it inside the runtime");
        return Ok(None);
    }
    let kept = staging.keep();
    if let Err(err) = std::fs::rename(&kept, &lib) {
        let _ = std::fs::remove_dir_all(&kept);
        // Another install of the same runtime got there first: its copy is as good.
        if !lib.join(&name).is_dir() {
            return Err(PathError::new("write", &lib, err).into());
        }
    }
    Ok(Some(format!("lib/{name}")))
}

/// For an installed runtime whose stdlib is still only inside it (installed from the
/// catalogue, or by a wasipy that did not extract it): extracts it, and records it in the
/// manifest. Where that fails (a read-only store), the runtime is used as it is, as before.
pub fn extract_installed(
    store: &Store,
    installed: Installed,
    settings: &Settings,
) -> Result<Installed, Error> {
    if installed.manifest.stdlib.is_some() || installed.embedded().is_none() {
        return Ok(installed);
    }
    let dir = installed.dir.clone();
    let mut manifest = installed.manifest.clone();
    let runner = Runner::new(installed.clone(), settings)?;
    let recorded = extract_stdlib(&runner, &dir).and_then(|rel| {
        let Some(rel) = rel else { return Ok(false) };
        manifest.stdlib = Some(rel);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        fsio::write_atomically(&dir.join(MANIFEST_FILE), &json)?;
        Ok(true)
    });
    match recorded {
        Ok(true) => Ok(store.load(&manifest.id)?),
        Ok(false) => Ok(installed),
        Err(err) => {
            eprintln!("wasipy: warning: {err}; its guests read the stdlib inside the runtime");
            Ok(installed)
        }
    }
}

/// Compiles an on-disk stdlib to bytecode once, so no start ever compiles it (it is mapped
/// read-only, where the runtime could not write its caches). Skipped when it already has
/// unchecked-hash bytecode (as `scripts/build-runtime` packs it), which stays valid.
fn compile_stdlib(runner: &Runner, rel: &str, version: &str) -> Result<(), Error> {
    if has_unchecked_bytecode(&runner.installed.dir.join(rel), version) {
        return Ok(());
    }
    eprintln!("wasipy: compiling the stdlib to bytecode (once)");
    let target = format!("/usr/local/{rel}");
    // Some test files do not compile on purpose; the exit code says nothing useful.
    // Unchecked-hash pycs: the stdlib is read-only in the guest and never changes, so its
    // bytecode must not depend on file mtimes (which unpacking or copying may change).
    let args = [
        "-I",
        "-m",
        "compileall",
        "-q",
        "--invalidation-mode",
        "unchecked-hash",
        &target,
    ];
    let _ = runner.run(&args, true)?;
    Ok(())
}

/// Whether `os.py` of `stdlib` has a pyc whose flags say "hash-based, unchecked" (PEP 552).
fn has_unchecked_bytecode(stdlib: &Path, version: &str) -> bool {
    let tag: String = version.split('.').take(2).collect();
    let pyc = stdlib.join(format!("__pycache__/os.cpython-{tag}.pyc"));
    let mut header = [0u8; 8];
    std::fs::File::open(pyc)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok_and(|()| header[4..8] == [1, 0, 0, 0])
}

/// Removes runtime `id`; refused while a venv wasipy made still uses it, unless `force`.
pub fn remove(store: &Store, registry: &Registry, id: &str, force: bool) -> Result<(), Error> {
    let dir = store.dir_of(id);
    if !dir.join(MANIFEST_FILE).is_file() {
        return Err(Error::NotInstalled { id: id.to_owned() });
    }
    let users = registry.using(id);
    if !users.is_empty() && !force {
        return Err(Error::InUse {
            id: id.to_owned(),
            venvs: users,
        });
    }
    discard(store, id)
}

/// Removes runtime `id` from the store, whoever uses it: moved aside first, so a
/// half-deleted runtime is never seen under its id.
pub fn discard(store: &Store, id: &str) -> Result<(), Error> {
    let dir = store.dir_of(id);
    let trash = tempfile::Builder::new()
        .prefix(".removed-")
        .tempdir_in(store.root())
        .map_err(fsio::write_err(store.root()))?;
    std::fs::rename(&dir, trash.path().join(id)).map_err(fsio::write_err(&dir))?;
    Ok(())
}
