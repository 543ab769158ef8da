//! What goes into a packed module, copied into a staging folder: the venv's site-packages
//! without wasipy's shims and pip, and the app's folder; and the checks that refuse a venv
//! whose code lives outside it.

use super::error::Error;
use crate::fsio::{read_err, write_err};
use std::path::Path;

/// What was copied: files and their bytes (before byte-compiling).
#[derive(Debug, Default, Clone, Copy)]
pub struct Count {
    pub files: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for Count {
    fn add_assign(&mut self, other: Self) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// Refuses what a packed module could not hold: a `.pth` file adding a folder outside the
/// venv to `sys.path`, and editable installs (whose code stays in the project).
pub fn check_site(site: &Path, venv: &Path) -> Result<(), Error> {
    let venv = venv.canonicalize().map_err(read_err(venv))?;
    let entries = std::fs::read_dir(site).map_err(read_err(site))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pth") && !skipped(&name) {
            check_pth(&path, site, &venv)?;
        }
        if name.ends_with(".dist-info") && editable(&path.join("direct_url.json")) {
            return Err(Error::Editable {
                dist: name.trim_end_matches(".dist-info").to_owned(),
                path,
            });
        }
    }
    Ok(())
}

fn check_pth(pth: &Path, site: &Path, venv: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(pth).map_err(read_err(pth))?;
    for line in pth_paths(&text) {
        // site.py skips a folder that does not exist; so does this check.
        let Ok(target) = site.join(line).canonicalize() else {
            continue;
        };
        if !target.starts_with(venv) {
            return Err(Error::PthOutside {
                pth: pth.to_owned(),
                target,
            });
        }
    }
    Ok(())
}

/// The folders a `.pth` file adds, as site.py reads it (not comments or `import` lines).
pub fn pth_paths(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.trim_end())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.starts_with("import ") && !l.starts_with("import\t"))
}

/// PEP 660/610: an editable install records `"dir_info": {"editable": true}`.
fn editable(direct_url: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(direct_url) else {
        return false;
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    json["dir_info"]["editable"].as_bool() == Some(true)
}

/// Entries of site-packages a packed module leaves out: wasipy's shims (they speak to a
/// bridge no other host has), pip (nothing to install into), bytecode caches.
fn skipped(name: &str) -> bool {
    name.starts_with("_wasipy")
        || crate::venv::create::shim_names().any(|s| s == name)
        || name == "pip"
        || (name.starts_with("pip-") && name.ends_with(".dist-info"))
}

/// Copies the venv's site-packages into `to`, leaving out [`skipped`] entries.
pub fn copy_site(site: &Path, to: &Path) -> Result<Count, Error> {
    let mut count = Count::default();
    copy_tree(site, to, &|name, _| !skipped(name), &mut count)?;
    Ok(count)
}

/// Copies the app's folder into `to`: not hidden entries, bytecode caches, venvs or `out`.
pub fn copy_app(dir: &Path, to: &Path, out: &Path) -> Result<Count, Error> {
    let mut count = Count::default();
    let keep = |name: &str, path: &Path| {
        !name.starts_with('.') && path != out && !path.join("pyvenv.cfg").exists()
    };
    copy_tree(dir, to, &keep, &mut count)?;
    Ok(count)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    keep: &dyn Fn(&str, &Path) -> bool,
    count: &mut Count,
) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(write_err(to))?;
    for entry in std::fs::read_dir(from).map_err(read_err(from))? {
        let entry = entry.map_err(read_err(from))?;
        let (path, name) = (entry.path(), entry.file_name());
        let name = name.to_string_lossy();
        if name == "__pycache__" || !keep(&name, &path) {
            continue;
        }
        let target = to.join(&*name);
        let meta = std::fs::metadata(&path).map_err(read_err(&path))?;
        if meta.is_dir() {
            copy_tree(&path, &target, &|_, _| true, count)?;
        } else if meta.is_file() {
            std::fs::copy(&path, &target).map_err(write_err(&target))?;
            count.files += 1;
            count.bytes += meta.len();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pth_paths_are_the_lines_site_adds() {
        let table: &[(&str, &[&str])] = &[
            ("import _wasipy_shim\n", &[]),
            ("# comment\n\n../src\n", &["../src"]),
            ("/abs/path  \nimport\tx\n", &["/abs/path"]),
        ];
        for (text, want) in table {
            assert_eq!(pth_paths(text).collect::<Vec<_>>(), *want, "{text:?}");
        }
    }

    #[test]
    fn shims_and_pip_stay_out() {
        let table = [
            ("_wasipy.pth", true),
            ("_wasipy_shim.py", true),
            ("mmap.py", true),
            ("pip", true),
            ("pip-26.3.dist-info", true),
            ("pipx", false),
            ("rich", false),
            ("attrs-26.1.0.dist-info", false),
        ];
        for (name, want) in table {
            assert_eq!(skipped(name), want, "{name}");
        }
    }
}
