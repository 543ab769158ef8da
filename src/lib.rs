//! wasipy: CPython compiled to WASI, run by embedded wasmtime behind an ordinary virtual environment.
//!
//! One multi-call binary: invoked under a name starting with `python` it is the launcher
//! ([`launcher`]); otherwise it is the management CLI ([`cli`]).

// The layers, lowest first; a module uses only its own layer's and lower ones (checked by
// `tests/architecture.rs`; the README's Architecture section says what each owns).
// Base: settings and host facilities.
pub mod dirs;
pub mod fsio;
pub mod http;
pub mod index;
pub mod settings;
pub mod stop;
pub mod timer;
// What a guest is, as data.
pub mod guest;
// Runtimes on disk, and the host bridge guests talk to.
pub mod bridge;
pub mod runtime;
// Venvs, and wasmtime running guests.
pub mod engine;
pub mod venv;

// Packing a venv and an app into one module.
pub mod pack;
// The two entry points: decide, then act.
pub mod cli;
pub mod launcher;

use std::ffi::OsString;
use std::path::Path;

/// Runs the role the binary was invoked as and returns the process exit code.
/// wasipy's settings are read from the environment here, once.
pub fn run() -> anyhow::Result<i32> {
    let settings = settings::Settings::from_env();
    stop::ignore_file_size_signal();
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    if is_launcher_name(&argv0) {
        launcher::main(&argv0, args.collect(), &settings)
    } else {
        cli::main(&settings)
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
