//! Installing a pure-Python wheel into a venv from the host (used to put pip into new
//! venvs): the files, console scripts whose shebang is the venv's python, and a RECORD that
//! lets pip upgrade or uninstall it later.

use crate::fsio::{self, PathError};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read wheel `{path}`: {reason}; download it again")]
    Bad { path: PathBuf, reason: String },
    #[error(transparent)]
    Io(#[from] PathError),
}

/// Where a wheel's parts go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where files are written now (possibly a staging copy of the venv).
    pub site_packages: PathBuf,
    pub bin: PathBuf,
    /// The venv's python as it will be invoked (the final path), for shebangs.
    pub python: PathBuf,
    /// `3.12`, for the `pip3.12`-style alias pip itself adds.
    pub minor: String,
}

/// A console script: `name = module:function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    pub name: String,
    pub module: String,
    pub function: String,
}

/// Installs `wheel` into `target`; returns the `name-version` of the distribution.
pub fn install(wheel: &Path, target: &Target) -> Result<String, Error> {
    let bad = |reason: String| Error::Bad {
        path: wheel.to_owned(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(|e| bad(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let dist_info = dist_info_dir(&archive).ok_or_else(|| bad("no .dist-info directory".into()))?;
    let data_dir = format!("{}.data/", dist_info.trim_end_matches(".dist-info"));
    let mut record = Vec::new();
    let mut entry_points = String::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        if member.is_dir() {
            continue;
        }
        let name = member
            .enclosed_name()
            .ok_or_else(|| bad(format!("unsafe member name `{}`", member.name())))?;
        let name = name.to_string_lossy().replace('\\', "/");
        let mut bytes = Vec::with_capacity(member.size() as usize);
        member
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        if name == format!("{dist_info}/entry_points.txt") {
            entry_points = String::from_utf8_lossy(&bytes).into_owned();
        }
        if name == format!("{dist_info}/RECORD") {
            continue; // written afresh below
        }
        let (dest, executable) = match destination(&name, &data_dir, target) {
            Some(dest) => dest,
            None => continue,
        };
        let bytes = if executable {
            rewrite_shebang(bytes, &target.python)
        } else {
            bytes
        };
        record.push(write(&dest, &bytes, executable, &target.site_packages)?);
    }
    for entry in console_scripts(&entry_points, &target.minor) {
        let dest = target.bin.join(&entry.name);
        let text = script(&entry, &target.python);
        record.push(write(&dest, text.as_bytes(), true, &target.site_packages)?);
    }
    let installer = target.site_packages.join(&dist_info).join("INSTALLER");
    record.push(write(
        &installer,
        b"wasipy\n",
        false,
        &target.site_packages,
    )?);
    record.push(format!("{dist_info}/RECORD,,"));
    let record_path = target.site_packages.join(&dist_info).join("RECORD");
    let mut text = record.join("\n");
    text.push('\n');
    std::fs::write(&record_path, text).map_err(fsio::write_err(&record_path))?;
    Ok(dist_info.trim_end_matches(".dist-info").to_owned())
}

fn dist_info_dir<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> Option<String> {
    archive
        .file_names()
        .filter_map(|n| n.split_once('/').map(|(dir, _)| dir))
        .find(|dir| dir.ends_with(".dist-info") && !dir.contains(".."))
        .map(str::to_owned)
}

/// Where member `name` goes, and whether it is a script.
fn destination(name: &str, data_dir: &str, target: &Target) -> Option<(PathBuf, bool)> {
    let Some(rest) = name.strip_prefix(data_dir) else {
        return Some((target.site_packages.join(name), false));
    };
    let (scheme, path) = rest.split_once('/')?;
    match scheme {
        "purelib" | "platlib" => Some((target.site_packages.join(path), false)),
        "scripts" => Some((target.bin.join(path), true)),
        "data" => Some((target.bin.parent()?.join(path), false)),
        _ => None, // headers: nothing to compile them for
    }
}

/// `#!python` in a wheel's scripts means "the interpreter installing this".
fn rewrite_shebang(bytes: Vec<u8>, python: &Path) -> Vec<u8> {
    let Some(rest) = bytes.strip_prefix(b"#!python") else {
        return bytes;
    };
    let line_end = rest
        .iter()
        .position(|&b| b == b'\n')
        .map_or(rest.len(), |p| p + 1);
    let mut out = shebang(python).into_bytes();
    out.extend_from_slice(&rest[line_end..]);
    out
}

/// A shebang line for `python`, in the form pip (distlib) writes: plain when the path is
/// short and has no spaces, else the `/bin/sh` re-exec trick.
pub fn shebang(python: &Path) -> String {
    let exe = python.to_string_lossy();
    if !exe.contains(' ') && exe.len() + 3 <= 127 {
        format!("#!{exe}\n")
    } else {
        format!("#!/bin/sh\n'''exec' \"{exe}\" \"$0\" \"$@\"\n' '''\n")
    }
}

/// `[console_scripts]` of an entry_points.txt; pip's own `pipX` gains a `pipX.Y` twin,
/// as pip's installer does.
pub fn console_scripts(text: &str, minor: &str) -> Vec<EntryPoint> {
    let mut in_section = false;
    let mut entries = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
            continue;
        }
        let Some((name, target)) = line.split_once('=').filter(|_| in_section) else {
            continue;
        };
        let target = target.split('[').next().unwrap_or_default().trim();
        let Some((module, function)) = target.split_once(':') else {
            continue;
        };
        let entry = EntryPoint {
            name: name.trim().to_owned(),
            module: module.trim().to_owned(),
            function: function.trim().to_owned(),
        };
        if entry.name == "pip3" {
            entries.push(EntryPoint {
                name: format!("pip{minor}"),
                ..entry.clone()
            });
        }
        entries.push(entry);
    }
    entries
}

/// The script pip writes for an entry point.
fn script(entry: &EntryPoint, python: &Path) -> String {
    let import = entry.function.split('.').next().unwrap_or_default();
    format!(
        "{}# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {} import {}\n\
         if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({}())\n",
        shebang(python),
        entry.module,
        import,
        entry.function
    )
}

/// Writes one file and returns its RECORD line (path relative to site-packages).
fn write(dest: &Path, bytes: &[u8], executable: bool, site: &Path) -> Result<String, Error> {
    let err = |source| Error::Io(PathError::new("write", dest, source));
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(dest, bytes).map_err(err)?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
    Ok(format!(
        "{},sha256={digest},{}",
        relative(dest, site).display(),
        bytes.len()
    ))
}

/// `dest` relative to `base`, with `..` where it lies outside (scripts in `bin`).
fn relative(dest: &Path, base: &Path) -> PathBuf {
    let dest: Vec<Component> = dest.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = dest.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in &dest[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_scripts_follow_pip() {
        let text = "[gui_scripts]\nx=y:z\n[console_scripts]\npip=pip._internal.cli.main:cli\n\
                    pip3 = pip._internal.cli.main:cli\ntool = pkg.mod:Cls.run [extra]\n";
        let names: Vec<_> = console_scripts(text, "3.12")
            .into_iter()
            .map(|e| (e.name, e.module, e.function))
            .collect();
        let expected: Vec<(String, String, String)> = [
            ("pip", "pip._internal.cli.main", "cli"),
            ("pip3.12", "pip._internal.cli.main", "cli"),
            ("pip3", "pip._internal.cli.main", "cli"),
            ("tool", "pkg.mod", "Cls.run"),
        ]
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn shebangs_match_distlib() {
        assert_eq!(shebang(Path::new("/v/bin/python")), "#!/v/bin/python\n");
        assert!(shebang(Path::new("/my venv/bin/python"))
            .starts_with("#!/bin/sh\n'''exec' \"/my venv/bin/python\""));
        let long = format!("/{}/bin/python", "d".repeat(130));
        assert!(shebang(Path::new(&long)).starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn record_paths_are_relative_to_site_packages() {
        let site = Path::new("/v/lib/python3.12/site-packages");
        assert_eq!(
            relative(&site.join("pip/__init__.py"), site),
            Path::new("pip/__init__.py")
        );
        assert_eq!(
            relative(Path::new("/v/bin/pip"), site),
            Path::new("../../../bin/pip")
        );
    }

    #[test]
    fn installs_a_wheel_with_scripts_and_record() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for (name, body) in [
            ("demo/__init__.py", "X = 1\n"),
            ("demo-1.0.data/scripts/hello", "#!python\nprint('hi')\n"),
            (
                "demo-1.0.dist-info/entry_points.txt",
                "[console_scripts]\ndemo = demo:main\n",
            ),
            ("demo-1.0.dist-info/RECORD", "stale\n"),
        ] {
            zip.start_file(name, opts).unwrap();
            std::io::Write::write_all(&mut zip, body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let venv = tmp.path().join("v");
        let target = Target {
            site_packages: venv.join("lib/python3.12/site-packages"),
            bin: venv.join("bin"),
            python: PathBuf::from("/final/v/bin/python"),
            minor: "3.12".into(),
        };
        assert_eq!(install(&wheel, &target).unwrap(), "demo-1.0");
        let hello = std::fs::read_to_string(target.bin.join("hello")).unwrap();
        assert_eq!(hello, "#!/final/v/bin/python\nprint('hi')\n");
        let demo = std::fs::read_to_string(target.bin.join("demo")).unwrap();
        assert!(
            demo.starts_with("#!/final/v/bin/python\n") && demo.contains("from demo import main")
        );
        let record =
            std::fs::read_to_string(target.site_packages.join("demo-1.0.dist-info/RECORD"))
                .unwrap();
        for line in [
            "demo/__init__.py,sha256=",
            "../../../bin/hello,sha256=",
            "../../../bin/demo,",
            "demo-1.0.dist-info/INSTALLER,",
            "demo-1.0.dist-info/RECORD,,",
        ] {
            assert!(record.contains(line), "{line} missing from:\n{record}");
        }
        assert!(!record.contains("stale"));
    }
}
