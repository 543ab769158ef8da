//! Runtime layouts a user can bring: a single `.wasm` (stdlib embedded), a directory, or a
//! `.zip`/`.tar.gz`/`.tar.xz` in CPython's release layout (`lib/pythonX.Y/` with the stdlib
//! on disk, the wasm under `lib/pythonX.Y/lib-wasm/` or beside it). Unpacked into a
//! runtime directory as `python.wasm` plus, if there is one, `lib/pythonX.Y/`.

use super::PREINIT_FILE;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` does not exist")]
    Missing { path: PathBuf },
    #[error("no WebAssembly module (`*.wasm`) found in `{path}`; expected `python.wasm` or `lib/pythonX.Y/lib-wasm/*.wasm`")]
    NoWasm { path: PathBuf },
    #[error(
        "`{path}` is not a runtime: expected a .wasm file, a directory, .zip, .whl, .tar.gz or .tar.xz"
    )]
    Kind { path: PathBuf },
    #[error("cannot unpack `{path}`: {reason}")]
    Unpack { path: PathBuf, reason: String },
}

/// What was found: the stdlib directory relative to the runtime dir (`lib/python3.13`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub stdlib: Option<String>,
}

fn unpack_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Unpack {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Puts the runtime at `source` into `dest` (an empty directory): `dest/python.wasm` and
/// `dest/lib/pythonX.Y/` when the layout has an on-disk stdlib.
pub fn unpack(source: &Path, dest: &Path, wasm_name: &str) -> Result<Unpacked, Error> {
    if !source.exists() {
        return Err(Error::Missing {
            path: source.to_owned(),
        });
    }
    let name = source.to_string_lossy().to_ascii_lowercase();
    if source.is_dir() {
        return from_dir(source, dest, wasm_name);
    }
    if name.ends_with(".wasm") {
        std::fs::copy(source, dest.join(wasm_name)).map_err(unpack_err(source))?;
        return Ok(Unpacked { stdlib: None });
    }
    let tmp = tempfile::tempdir_in(dest).map_err(unpack_err(source))?;
    let file = std::fs::File::open(source).map_err(unpack_err(source))?;
    let bad = |e: String| Error::Unpack {
        path: source.to_owned(),
        reason: e,
    };
    if name.ends_with(".zip") || name.ends_with(".whl") {
        zip::ZipArchive::new(file)
            .and_then(|mut z| z.extract(tmp.path()))
            .map_err(|e| bad(e.to_string()))?;
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        tar::Archive::new(flate2::read::GzDecoder::new(file))
            .unpack(tmp.path())
            .map_err(|e| bad(e.to_string()))?;
    } else if name.ends_with(".tar.xz") {
        let mut tarball = Vec::new();
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(file), &mut tarball)
            .map_err(|e| bad(e.to_string()))?;
        tar::Archive::new(std::io::Cursor::new(tarball))
            .unpack(tmp.path())
            .map_err(|e| bad(e.to_string()))?;
    } else {
        return Err(Error::Kind {
            path: source.to_owned(),
        });
    }
    let root = single_top_dir(tmp.path());
    let unpacked = from_dir(&root, dest, wasm_name)?;
    Ok(unpacked)
}

/// An archive's one top-level directory (`python-3.13.5-wasm32-wasip1/`, a runtime wheel's
/// package), or its root. A wheel's `.dist-info` does not count.
fn single_top_dir(root: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let entries: Vec<PathBuf> = entries
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "dist-info"))
        .collect();
    match entries.as_slice() {
        [only] if only.is_dir() && !root.join("lib").is_dir() => only.clone(),
        _ => root.to_owned(),
    }
}

fn from_dir(dir: &Path, dest: &Path, wasm_name: &str) -> Result<Unpacked, Error> {
    let stdlib = find_stdlib(dir);
    let wasm = find_wasm(dir, stdlib.as_deref()).ok_or_else(|| Error::NoWasm {
        path: dir.to_owned(),
    })?;
    std::fs::copy(&wasm, dest.join(wasm_name)).map_err(unpack_err(&wasm))?;
    // The source of start-up snapshots (see `snapshot`), if the runtime ships one beside it.
    let preinit = wasm.with_file_name(PREINIT_FILE);
    if preinit.is_file() {
        std::fs::copy(&preinit, dest.join(PREINIT_FILE)).map_err(unpack_err(&preinit))?;
    }
    if let Some(rel) = &stdlib {
        copy_tree(&dir.join(rel), &dest.join(rel), &wasm).map_err(unpack_err(dir))?;
    }
    Ok(Unpacked { stdlib })
}

/// `lib/pythonX.Y` holding `os.py`.
fn find_stdlib(dir: &Path) -> Option<String> {
    let lib = std::fs::read_dir(dir.join("lib")).ok()?;
    let mut found: Vec<String> = lib
        .flatten()
        .filter(|e| e.path().join("os.py").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("python"))
        .map(|n| format!("lib/{n}"))
        .collect();
    found.sort();
    found.pop()
}

fn find_wasm(dir: &Path, stdlib: Option<&str>) -> Option<PathBuf> {
    let mut places = vec![dir.to_owned(), dir.join("bin")];
    if let Some(rel) = stdlib {
        places.insert(0, dir.join(rel).join("lib-wasm"));
    }
    for place in places {
        let preferred = place.join("python.wasm");
        if preferred.is_file() {
            return Some(preferred);
        }
        let mut wasms: Vec<PathBuf> = std::fs::read_dir(&place)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        wasms.retain(|p| {
            p.extension().is_some_and(|e| e == "wasm")
                && p.file_name().is_some_and(|n| n != PREINIT_FILE)
        });
        wasms.sort();
        if let Some(first) = wasms.into_iter().next() {
            return Some(first);
        }
    }
    None
}

/// Copies the stdlib tree, leaving out the wasm itself (it is `python.wasm` now).
fn copy_tree(from: &Path, to: &Path, skip: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&path, &target, skip)?;
        } else if kind.is_file() && path != skip {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn official_layout(root: &Path) {
        let lib = root.join("lib/python3.13");
        std::fs::create_dir_all(lib.join("lib-wasm")).unwrap();
        std::fs::create_dir_all(lib.join("json")).unwrap();
        std::fs::write(lib.join("os.py"), "# os\n").unwrap();
        std::fs::write(lib.join("json/__init__.py"), "").unwrap();
        std::fs::write(lib.join("lib-wasm/python.wasm"), b"\0asm").unwrap();
    }

    #[test]
    fn finds_the_wasm_and_stdlib_of_the_release_layout() {
        let src = tempfile::tempdir().unwrap();
        official_layout(src.path());
        let dest = tempfile::tempdir().unwrap();
        let got = unpack(src.path(), dest.path(), "python.wasm").unwrap();
        assert_eq!(got.stdlib.as_deref(), Some("lib/python3.13"));
        assert!(dest.path().join("python.wasm").is_file());
        assert!(dest
            .path()
            .join("lib/python3.13/json/__init__.py")
            .is_file());
        assert!(!dest
            .path()
            .join("lib/python3.13/lib-wasm/python.wasm")
            .exists());
    }

    #[test]
    fn keeps_a_preinit_module_beside_the_wasm_and_never_takes_it_for_one() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("lib/python3.13")).unwrap();
        std::fs::write(src.path().join("lib/python3.13/os.py"), "").unwrap();
        std::fs::write(src.path().join("a-python.wasm"), b"\0asm interpreter").unwrap();
        std::fs::write(src.path().join(PREINIT_FILE), b"\0asm preinit").unwrap();
        let dest = tempfile::tempdir().unwrap();
        unpack(src.path(), dest.path(), "python.wasm").unwrap();
        let read = |name: &str| std::fs::read(dest.path().join(name)).unwrap();
        assert_eq!(read("python.wasm"), b"\0asm interpreter");
        assert_eq!(read(PREINIT_FILE), b"\0asm preinit");
        std::fs::remove_file(src.path().join("a-python.wasm")).unwrap();
        let dest = tempfile::tempdir().unwrap();
        assert!(unpack(src.path(), dest.path(), "python.wasm").is_err());
    }

    #[test]
    fn a_runtime_wheel_is_its_package_directory() {
        let src = tempfile::tempdir().unwrap();
        let whl = src
            .path()
            .join("wasipy_runtime_cpython-3.13.5-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&whl).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in [
            ("wasipy_runtime_cpython/python.wasm", &b"\0asm"[..]),
            (
                "wasipy_runtime_cpython/python-preinit.wasm",
                b"\0asm preinit",
            ),
            ("wasipy_runtime_cpython/lib/python3.13/os.py", b"# os\n"),
            ("wasipy_runtime_cpython-3.13.5.dist-info/RECORD", b""),
        ] {
            zip.start_file(name, options).unwrap();
            std::io::Write::write_all(&mut zip, body).unwrap();
        }
        zip.finish().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let got = unpack(&whl, dest.path(), "python.wasm").unwrap();
        assert_eq!(got.stdlib.as_deref(), Some("lib/python3.13"));
        assert!(dest.path().join(PREINIT_FILE).is_file());
    }

    #[test]
    fn reads_tarballs_and_single_files() {
        let src = tempfile::tempdir().unwrap();
        let top = src.path().join("python-3.13.5-wasm32-wasip1");
        official_layout(&top);
        let tarball = src.path().join("rt.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tarball).unwrap(),
            flate2::Compression::fast(),
        );
        let mut builder = tar::Builder::new(gz);
        builder
            .append_dir_all("python-3.13.5-wasm32-wasip1", &top)
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let got = unpack(&tarball, dest.path(), "python.wasm").unwrap();
        assert_eq!(got.stdlib.as_deref(), Some("lib/python3.13"));
        assert!(dest.path().join("lib/python3.13/os.py").is_file());

        let wasm = src.path().join("x.wasm");
        std::fs::write(&wasm, b"\0asm").unwrap();
        let dest = tempfile::tempdir().unwrap();
        assert_eq!(
            unpack(&wasm, dest.path(), "python.wasm").unwrap().stdlib,
            None
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            unpack(empty.path(), dest.path(), "python.wasm"),
            Err(Error::NoWasm { .. })
        ));
        assert!(matches!(
            unpack(&src.path().join("nope.wasm"), dest.path(), "python.wasm"),
            Err(Error::Missing { .. })
        ));
    }
}
