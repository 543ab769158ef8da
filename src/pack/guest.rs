//! The venv's own interpreter running one of pack's helper scripts (`shims/_wasipy_pack*.py`)
//! over the staged folders: the runtime's bytecode and the runtime's stdlib, by construction.

use super::error::Error;
use crate::fsio;
use std::ffi::OsString;
use std::path::Path;

/// Runs `python -I -B SCRIPT ARGS...` with `venv`'s python, the script written to
/// `staging` as `name` (beside what it works on: a sandboxed venv sees the working directory)
/// and removed after.
pub fn run(
    venv: &Path,
    staging: &Path,
    (name, text): (&str, &str),
    args: &[OsString],
) -> Result<(), Error> {
    let script = staging.join(name);
    fsio::write_atomically(&script, text.as_bytes())?;
    let python = venv.join("bin").join("python");
    let status = std::process::Command::new(&python)
        .args(["-I", "-B"])
        .arg(&script)
        .args(args)
        .status();
    let _ = std::fs::remove_file(&script);
    let fail = |status: String| Error::Helper {
        python: python.clone(),
        script: name.to_owned(),
        status,
    };
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(fail(s.to_string())),
        Err(e) => Err(fail(e.to_string())),
    }
}
