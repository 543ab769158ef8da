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

/// A file of the embedded filesystem given new contents, no longer than the old.
#[derive(Debug)]
pub struct Swap {
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// `wasm` with `trees` added to its embedded filesystem, read-only, and `swap` done.
pub fn embed(
    wasm: &[u8],
    trees: &[Tree],
    swap: Option<&Swap>,
    settings: &EngineSettings,
) -> Result<Vec<u8>, String> {
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
    if let Some(swap) = swap {
        let memory = instance
            .exports(&mut store)
            .find_map(|e| e.into_memory())
            .ok_or("the module exports no memory")?;
        swap_file(memory.data_mut(&mut store), swap)?;
    }
    snapshot::capture(&wizer, &cx, &mut store, instance)
}

/// Puts `swap.new` where the embedded file holding `swap.old` keeps its bytes, zeroes the
/// rest (a snapshot leaves zeroed memory out of the module) and sets the file's length.
///
/// wasi-vfs's in-memory file is a `{is_dir: bool, count: usize, data: *u8}` node (its
/// `linked_storage.c`; 32-bit on wasm32) pointing at the bytes it read at pack time: the
/// one node whose count and pointer are the old file's is the one to change.
fn swap_file(memory: &mut [u8], swap: &Swap) -> Result<(), String> {
    let (old, new) = (&swap.old, &swap.new);
    if new.len() > old.len() {
        return Err("the new file is larger than the old".into());
    }
    // The same bytes may be there more than once (an app folder holding a packed module):
    // the one a file node points at is the file.
    let found: Vec<(usize, usize)> = memchr::memmem::find_iter(memory, old)
        .flat_map(|at| {
            node_of(memory, at, old.len())
                .into_iter()
                .map(move |node| (at, node))
        })
        .collect();
    let [(at, node)] = found[..] else {
        return Err(format!(
            "{} file nodes of wasi-vfs (as this runtime links it) hold the stdlib ZIP, not one",
            found.len()
        ));
    };
    memory[at..at + new.len()].copy_from_slice(new);
    memory[at + new.len()..at + old.len()].fill(0);
    memory[node..node + 4].copy_from_slice(&(new.len() as u32).to_le_bytes());
    Ok(())
}

/// The offsets of the `count` fields of file nodes holding `len` bytes at `at` (a wasm32
/// memory: offsets fit in 32 bits).
fn node_of(memory: &[u8], at: usize, len: usize) -> Vec<usize> {
    let (len, ptr) = ((len as u32).to_le_bytes(), (at as u32).to_le_bytes());
    (4..memory.len().saturating_sub(8))
        .step_by(4)
        .filter(|&o| memory[o - 4] == 0 && memory[o..o + 4] == len && memory[o + 4..o + 8] == ptr)
        .collect()
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

    /// Memory with `copies` of a file at 64-byte steps from 256, and a file node (is_dir 0,
    /// count, data) at 16 for each offset in `nodes`.
    fn memory_with(file: &[u8], copies: usize, nodes: &[usize]) -> Vec<u8> {
        let mut memory = vec![0u8; 1024];
        for copy in 0..copies {
            memory[256 + 64 * copy..][..file.len()].copy_from_slice(file);
        }
        for (i, at) in nodes.iter().enumerate() {
            let node = 16 + 12 * i;
            memory[node + 4..node + 8].copy_from_slice(&(file.len() as u32).to_le_bytes());
            memory[node + 8..node + 12].copy_from_slice(&(*at as u32).to_le_bytes());
        }
        memory
    }

    #[test]
    fn the_file_a_node_points_at_is_swapped() {
        let old = b"PK old stdlib zip bytes".to_vec();
        let swap = Swap {
            old: old.clone(),
            new: b"PK new".to_vec(),
        };
        let table: &[(usize, &[usize], Option<usize>)] = &[
            (1, &[256], Some(256)),
            (3, &[320], Some(320)),
            (2, &[], None),
            (0, &[], None),
            (2, &[256, 320], None),
        ];
        for (copies, nodes, want) in table {
            let mut memory = memory_with(&old, *copies, nodes);
            let done = swap_file(&mut memory, &swap);
            let Some(at) = want else {
                assert!(done.is_err(), "{copies} copies, nodes {nodes:?}");
                continue;
            };
            done.unwrap();
            assert_eq!(&memory[*at..at + 6], b"PK new");
            assert!(memory[at + 6..at + old.len()].iter().all(|b| *b == 0));
            assert_eq!(memory[20..24], 6u32.to_le_bytes(), "the node's count");
        }
        let larger = Swap {
            old: b"PK".to_vec(),
            new: b"PK bigger".to_vec(),
        };
        assert!(swap_file(&mut memory_with(b"PK", 1, &[256]), &larger).is_err());
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
