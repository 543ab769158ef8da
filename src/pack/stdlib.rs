//! `--strip-stdlib`: the runtime's embedded stdlib ZIP without the modules nothing packed
//! imports. The venv's interpreter finds what is reached (`shims/_wasipy_pack_stdlib.py`,
//! `modulefinder` over every packed module); the ZIP's entries are copied raw (no
//! recompressing) when kept; [`super::vfs`] puts the result where the old one was.

use super::error::Error;
use super::guest;
use super::vfs::{Swap, Tree};
use crate::fsio;
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Cursor;
use std::path::Path;

const FINDER: (&str, &str) = (
    "_wasipy_pack_stdlib.py",
    include_str!("../../shims/_wasipy_pack_stdlib.py"),
);

/// The stdlib ZIP before and after, and how many modules it held and holds.
#[derive(Debug)]
pub struct Stripped {
    pub swap: Swap,
    pub modules: usize,
    pub kept: usize,
}

/// Finds the stdlib modules reachable from `trees` (and `keep`) with `venv`'s python and
/// trims the runtime's ZIP at guest path `zip` to them.
pub fn strip(
    venv: &Path,
    staging: &Path,
    trees: &[Tree],
    zip: &str,
    keep: &[String],
) -> Result<Stripped, Error> {
    let out = staging.join("stdlib");
    std::fs::create_dir_all(&out).map_err(fsio::write_err(&out))?;
    let mut args: Vec<OsString> = vec![out.clone().into(), zip.into()];
    for name in keep {
        args.extend(["--keep".into(), name.into()]);
    }
    args.extend(trees.iter().map(|t| t.host.clone().into()));
    guest::run(venv, staging, FINDER, &args)?;
    let read = |name: &str| {
        let list = out.join(name);
        std::fs::read_to_string(&list).map_err(fsio::read_err(&list))
    };
    let unknown = read("unknown.txt")?;
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.lines().collect();
        return Err(Error::UnknownStdlib(names.join(", ")));
    }
    let text = read("keep.txt")?;
    let reached: HashSet<&str> = text.lines().collect();
    let path = out.join("stdlib.zip");
    let old = std::fs::read(&path).map_err(fsio::read_err(&path))?;
    let (new, modules, kept) = trim(&old, &reached).map_err(Error::Stdlib)?;
    Ok(Stripped {
        swap: Swap { old, new },
        modules,
        kept,
    })
}

/// The module a stdlib ZIP entry holds (`email/mime/text.pyc` is `email.mime.text`,
/// `email/__init__.pyc` is `email`); None for a folder or a data file.
fn module_of(entry: &str) -> Option<String> {
    let stem = entry.strip_suffix(".pyc").or(entry.strip_suffix(".py"))?;
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    Some(stem.replace('/', "."))
}

/// Whether entry `name` stays: a module reached, or a data file.
fn keeps(name: &str, reached: &HashSet<&str>) -> bool {
    module_of(name).is_none_or(|module| reached.contains(module.as_str()))
}

/// `zip` with only the entries [`keeps`] says stay (folders where one of theirs does);
/// returns it with the number of modules before and after.
fn trim(zip: &[u8], reached: &HashSet<&str>) -> Result<(Vec<u8>, usize, usize), String> {
    let bad = |e: zip::result::ZipError| format!("the runtime's stdlib ZIP: {e}");
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(bad)?;
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let files: Vec<&String> = names.iter().filter(|n| !n.ends_with('/')).collect();
    let kept: Vec<&&String> = files.iter().filter(|n| keeps(n, reached)).collect();
    let needed = |dir: &str| kept.iter().any(|n| n.starts_with(dir));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(bad)?;
        let name = entry.name().to_owned();
        let stays = match name.ends_with('/') {
            true => needed(&name),
            false => keeps(&name, reached),
        };
        if stays {
            writer.raw_copy_file(entry).map_err(bad)?;
        }
    }
    let before = files.iter().filter(|n| module_of(n).is_some()).count();
    let after = kept.iter().filter(|n| module_of(n).is_some()).count();
    let out = writer.finish().map_err(bad)?.into_inner();
    Ok((out, before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn entries_are_named_as_modules() {
        let table = [
            ("email/mime/text.pyc", Some("email.mime.text")),
            ("email/__init__.pyc", Some("email")),
            ("os.pyc", Some("os")),
            ("json/__init__.py", Some("json")),
            ("email/", None),
            ("pydoc_data/topics.txt", None),
        ];
        for (entry, want) in table {
            assert_eq!(module_of(entry).as_deref(), want, "{entry}");
        }
    }

    #[test]
    fn only_what_is_reached_and_data_files_stay_copied_raw() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, dir) in [
            ("email/", true),
            ("xml/", true),
            ("email/__init__.pyc", false),
            ("email/parser.pyc", false),
            ("xml/dom.pyc", false),
            ("encodings/idna.pyc", false),
            ("_sysconfigdata__wasi_wasm32-wasi.pyc", false),
            ("json.pyc", false),
            ("data.txt", false),
        ] {
            match dir {
                true => writer.add_directory(name, deflated).unwrap(),
                false => {
                    writer.start_file(name, deflated).unwrap();
                    writer.write_all(name.repeat(50).as_bytes()).unwrap();
                }
            }
        }
        let old = writer.finish().unwrap().into_inner();
        let reached: HashSet<&str> = [
            "email",
            "email.parser",
            "os",
            "encodings.idna",
            "_sysconfigdata__wasi_wasm32-wasi",
        ]
        .into();
        let (new, before, after) = trim(&old, &reached).unwrap();
        assert_eq!((before, after), (6, 4));
        let mut archive = zip::ZipArchive::new(Cursor::new(&new)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        let mut names = names.into_iter().map(str::to_owned).collect::<Vec<_>>();
        names.sort();
        let want = [
            "_sysconfigdata__wasi_wasm32-wasi.pyc",
            "data.txt",
            "email/",
            "email/__init__.pyc",
            "email/parser.pyc",
            "encodings/idna.pyc",
        ];
        assert_eq!(names, want);
        let mut body = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("email/parser.pyc").unwrap(), &mut body)
            .unwrap();
        assert_eq!(body, "email/parser.pyc".repeat(50));
        assert!(new.len() < old.len());
    }
}
