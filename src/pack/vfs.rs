//! The embedded filesystem: staged host directories read into a runtime's wasi-vfs and kept
//! in a new module by Wizer, the way `wasi-vfs pack` does it.
//!
//! A runtime linked with wasi-vfs exports `wasi_vfs_pack_fs`: run with
//! `__WASI_VFS_PACKING` set, it walks every preopened directory into its in-memory
//! filesystem, adding to what an earlier pack put there (the default runtime's stdlib).
//! At run time those directories are preopens the guest serves itself; the host's are
//! passed through.

use crate::engine::{self, snapshot, EngineSettings, Tier};
use std::path::PathBuf;
use wasmtime::{Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wizer::Wizer;

/// The export a wasi-vfs runtime packs its preopens with.
pub const PACK_EXPORT: &str = "wasi_vfs_pack_fs";

/// A host directory to embed at a guest path.
#[derive(Debug, Clone)]
pub struct Tree {
    pub host: PathBuf,
    pub guest: String,
}

/// Whether `wasm` can take an embedded filesystem: a command module exporting [`PACK_EXPORT`].
pub fn packable(wasm: &[u8]) -> bool {
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            exports.extend(reader.into_iter().filter_map(|e| Some(e.ok()?.name)));
            break;
        }
    }
    exports.contains(&PACK_EXPORT) && exports.contains(&"_start")
}

/// `wasm` with `trees` added to its embedded filesystem, read-only.
pub fn embed(wasm: &[u8], trees: &[Tree], settings: &EngineSettings) -> Result<Vec<u8>, String> {
    let mut wizer = Wizer::new();
    wizer.init_func(PACK_EXPORT);
    let (cx, instrumented) = wizer.instrument(wasm).map_err(|e| e.to_string())?;
    // Winch: packing runs a little guest code once; Cranelift would take 10 s to compile it.
    let engine = engine::engine_for(Tier::Quick, settings).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &instrumented).map_err(|e| e.to_string())?;
    let mut wasi = WasiCtxBuilder::new();
    wasi.env("__WASI_VFS_PACKING", "1").inherit_stderr();
    for tree in trees {
        wasi.preopened_dir(&tree.host, &tree.guest, FsPerms::ReadOnly)
            .map_err(|e| format!("cannot read `{}`: {e}", tree.host.display()))?;
    }
    let mut store = Store::new(&engine, wasi.build_p1());
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |wasi| wasi).map_err(|e| e.to_string())?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| e.to_string())?;
    instance
        .get_typed_func::<(), ()>(&mut store, PACK_EXPORT)
        .and_then(|f| f.call(&mut store, ()))
        .map_err(|e| format!("`{PACK_EXPORT}` failed: {e}"))?;
    snapshot::capture(&wizer, &cx, &mut store, instance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{CodeSection, ExportKind, ExportSection, Function, FunctionSection};
    use wasm_encoder::{Instruction, Module as Encoded, TypeSection};

    /// A module with one empty function exported under each of `names`.
    fn module_exporting(names: &[&str]) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut exports = ExportSection::new();
        for name in names {
            exports.export(name, ExportKind::Func, 0);
        }
        let mut body = Function::new([]);
        body.instruction(&Instruction::End);
        let mut code = CodeSection::new();
        code.function(&body);
        let mut module = Encoded::new();
        module
            .section(&types)
            .section(&functions)
            .section(&exports)
            .section(&code);
        module.finish()
    }

    #[test]
    fn only_a_wasi_vfs_command_is_packable() {
        let table: &[(&[&str], bool)] = &[
            (&["_start", PACK_EXPORT], true),
            (&["_start"], false),
            (&[PACK_EXPORT], false),
            (&["_initialize", "run", PACK_EXPORT], false),
        ];
        for (exports, want) in table {
            assert_eq!(packable(&module_exporting(exports)), *want, "{exports:?}");
        }
        assert!(!packable(b"not wasm"));
    }
}
