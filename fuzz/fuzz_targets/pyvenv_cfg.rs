//! `pyvenv.cfg` as the launcher reads it: never a panic, and what parses renders back to
//! text that parses to the same entries.
#![no_main]

// The module is compiled from its own source file: the fuzz build then needs no wasmtime.
#[allow(dead_code)]
#[path = "../../src/venv/pyvenv_cfg.rs"]
mod pyvenv_cfg;

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/venv/pyvenv.cfg");
    if let Ok(cfg) = pyvenv_cfg::PyvenvCfg::parse(text, path) {
        let again = pyvenv_cfg::PyvenvCfg::parse(&cfg.render(), path)
            .expect("a rendered pyvenv.cfg parses");
        assert_eq!(cfg.render(), again.render());
    }
});
