//! pip in new venvs: which pip wheel to use (a given file, a find-links directory, or the
//! newest release on the index, kept in the cache for offline use) and where it comes from.

use crate::runtime::catalogue;
use crate::{fsio, http, index};
use std::path::{Path, PathBuf};

/// Where `wasipy venv` gets pip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipSource {
    /// `--without-pip`.
    None,
    /// `--pip-wheel FILE`.
    Wheel(PathBuf),
    /// `--find-links DIR`: the newest `pip-*.whl` in it.
    FindLinks(PathBuf),
    /// The newest pip on the index (pip's configured index), cached; the newest cached
    /// wheel when the index cannot be reached.
    Index,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no pip wheel (`pip-*.whl`) in `{dir}`; put one there or pass `--pip-wheel FILE`")]
    NoneIn { dir: PathBuf },
    #[error("`{path}` is not a pip wheel (expected `pip-VERSION-py3-none-any.whl`)")]
    NotPip { path: PathBuf },
    #[error("cannot get pip from the index `{index}`: {reason}; use `--pip-wheel FILE`, `--find-links DIR` or `--without-pip`")]
    Index { index: String, reason: String },
}

/// The pip wheel to install for `source`, or None for `--without-pip`.
pub fn pip_wheel(source: &PipSource, cache: &Path) -> Result<Option<PathBuf>, Error> {
    match source {
        PipSource::None => Ok(None),
        PipSource::Wheel(path) => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if pip_version(name).is_none() || !path.is_file() {
                return Err(Error::NotPip { path: path.clone() });
            }
            Ok(Some(path.clone()))
        }
        PipSource::FindLinks(dir) => newest_in(dir)
            .map(Some)
            .ok_or_else(|| Error::NoneIn { dir: dir.clone() }),
        PipSource::Index => from_index(&cache.join("wheels")).map(Some),
    }
}

/// The release of a `pip-X.Y[.Z]-py3-none-any.whl` file name; pre-releases and other
/// tags are skipped (`None`), as pip skips pre-releases by default.
pub fn pip_version(filename: &str) -> Option<Vec<u64>> {
    let version = filename
        .strip_prefix("pip-")?
        .strip_suffix("-py3-none-any.whl")?;
    version.split('.').map(|part| part.parse().ok()).collect()
}

fn newest<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .filter_map(|name| Some((pip_version(name)?, name)))
        .max()
        .map(|(_, name)| name)
}

fn newest_in(dir: &Path) -> Option<PathBuf> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    newest(names.iter().map(String::as_str)).map(|name| dir.join(name))
}

/// The newest pip on the index, downloaded into `wheels` once (verified by the index's
/// SHA-256); without the index, the newest wheel already there.
fn from_index(wheels: &Path) -> Result<PathBuf, Error> {
    let index = index::index_url(&catalogue::get().default_index_url);
    match fetch_newest(&index, wheels) {
        Ok(path) => Ok(path),
        Err(reason) => newest_in(wheels).ok_or(Error::Index {
            index: http::redact(&index),
            reason,
        }),
    }
}

fn fetch_newest(index: &str, wheels: &Path) -> Result<PathBuf, String> {
    let page_url = index::project_url(index, "pip");
    let page = http::get_text(&page_url).map_err(|e| e.to_string())?;
    let links = index::parse_links(&page, &page_url);
    let name = newest(
        links
            .iter()
            .filter(|l| !l.yanked)
            .map(|l| l.filename.as_str()),
    )
    .ok_or("the index lists no pip wheel")?;
    let link = links.iter().find(|l| l.filename == name).expect("listed");
    let dest = wheels.join(name);
    if dest.is_file() {
        return Ok(dest);
    }
    let mut tmp = fsio::partial_file(&dest, fsio::STALE)
        .map_err(|e| format!("`{}`: {e}", wheels.display()))?;
    let (sha, _) = http::download(&link.url, &mut tmp, &format!("wasipy: downloading {name}"))
        .map_err(|e| e.to_string())?;
    if let Some(expected) = &link.sha256 {
        if !sha.eq_ignore_ascii_case(expected) {
            return Err(format!(
                "`{name}` has SHA-256 {sha}, the index says {expected}"
            ));
        }
    }
    tmp.persist(&dest).map_err(|e| e.error.to_string())?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_final_release() {
        let names = [
            "pip-9.0.3-py2.py3-none-any.whl",
            "pip-25.3-py3-none-any.whl",
            "pip-26.0b1-py3-none-any.whl",
            "pip-26.0.1-py3-none-any.whl",
            "pip-26.0.1.tar.gz",
            "pip-24.10-py3-none-any.whl",
        ];
        assert_eq!(
            newest(names.into_iter()),
            Some("pip-26.0.1-py3-none-any.whl")
        );
        assert_eq!(
            pip_version("pip-24.10-py3-none-any.whl"),
            Some(vec![24, 10])
        );
        assert_eq!(pip_version("pip-26.0b1-py3-none-any.whl"), None);
        assert_eq!(pip_version("pipx-1.0-py3-none-any.whl"), None);
    }

    #[test]
    fn find_links_and_explicit_wheels() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "pip-25.0-py3-none-any.whl",
            "pip-25.10-py3-none-any.whl",
            "six-1.0-py3-none-any.whl",
        ] {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        let got = pip_wheel(&PipSource::FindLinks(tmp.path().into()), tmp.path()).unwrap();
        assert_eq!(got, Some(tmp.path().join("pip-25.10-py3-none-any.whl")));
        let six = tmp.path().join("six-1.0-py3-none-any.whl");
        assert!(matches!(
            pip_wheel(&PipSource::Wheel(six), tmp.path()),
            Err(Error::NotPip { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            pip_wheel(&PipSource::FindLinks(empty.path().into()), tmp.path()),
            Err(Error::NoneIn { .. })
        ));
        assert_eq!(pip_wheel(&PipSource::None, tmp.path()).unwrap(), None);
    }
}
