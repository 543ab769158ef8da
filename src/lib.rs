//! wasipy: CPython compiled to WASI, run by embedded wasmtime behind an ordinary virtual environment.
//!
//! One multi-call binary: invoked under a name starting with `python` it is the launcher
//! ([`launcher`]); otherwise it is the management CLI ([`cli`]).

pub mod activation;
pub mod bridge;
pub mod catalogue;
pub mod cli;
pub mod cmdline;
pub mod dirs;
pub mod doctor;
pub mod engine;
pub mod http;
pub mod index;
pub mod launcher;
pub mod layout;
pub mod local;
pub mod manifest;
pub mod mounts;
pub mod pyvenv_cfg;
pub mod runtime;
pub mod sandbox;
pub mod seed;
pub mod snapshot;
pub mod venv;
pub mod wheel;

use std::ffi::OsString;
use std::path::Path;

/// Runs the role the binary was invoked as and returns the process exit code.
pub fn run() -> anyhow::Result<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    if is_launcher_name(&argv0) {
        launcher::main(&argv0, args.collect())
    } else {
        cli::main()
    }
}

/// True when the binary was invoked as `python`, `python3`, `python3.12`, ...
pub fn is_launcher_name(argv0: &OsString) -> bool {
    Path::new(argv0)
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("python"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_names() {
        for (name, expected) in [
            ("python", true),
            ("python3", true),
            ("/x/.venv/bin/python3.12", true),
            ("./python", true),
            ("wasipy", false),
            ("/usr/bin/wasipy", false),
            ("/opt/python/bin/wasipy", false),
            ("", false),
        ] {
            assert_eq!(is_launcher_name(&OsString::from(name)), expected, "{name}");
        }
    }
}
