//! The packed module's own command line: its `args_sizes_get`/`args_get` imports wrapped so
//! that the guest sees a fixed prefix (`python /app/main.pyc`) in place of the host's
//! `argv[0]`, followed by the host's other arguments; and its DWARF sections dropped.
//!
//! A stock host passes `module.wasm ARGS...`; CPython would read `ARGS` as its own options.
//! The wrappers are two small functions appended to the module, and every call of the two
//! imports is redirected to them (wasm-encoder's reencoder renumbers the references).

use wasm_encoder::reencode::{self, Reencode, RoundtripReencoder};
use wasm_encoder::{CodeSection, FunctionSection, Instruction as I, MemArg, Module, ValType};
use wasmparser::{Parser, Payload, TypeRef};

const WASI: &str = "wasi_snapshot_preview1";

/// Where the prefix's strings and pointers go: `bytes` (NUL-terminated strings) at the start
/// of the guest's argument buffer, `offsets[k]` the start of string `k` within it.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub bytes: Vec<u8>,
    pub offsets: Vec<u32>,
}

impl Layout {
    pub fn of(prefix: &[String]) -> Self {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for arg in prefix {
            offsets.push(bytes.len() as u32);
            bytes.extend_from_slice(arg.as_bytes());
            bytes.push(0);
        }
        Self { bytes, offsets }
    }
}

/// The function indices the rewrite needs, found in a first pass over the module.
struct Plan {
    sizes_import: u32,
    get_import: u32,
    ty: u32,
    defined: u32,
    imported: u32,
}

impl Plan {
    fn scan(wasm: &[u8]) -> Result<Self, String> {
        let (mut sizes, mut get, mut ty, mut imported, mut defined) = (None, None, None, 0, 0);
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| e.to_string())? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(|e| e.to_string())?;
                        let TypeRef::Func(t) = import.ty else {
                            continue;
                        };
                        match (import.module, import.name) {
                            (WASI, "args_sizes_get") => (sizes, ty) = (Some(imported), Some(t)),
                            (WASI, "args_get") => get = Some(imported),
                            _ => {}
                        }
                        imported += 1;
                    }
                }
                Payload::FunctionSection(reader) => defined = reader.count(),
                _ => {}
            }
        }
        match (sizes, get, ty) {
            (Some(sizes_import), Some(get_import), Some(ty)) => Ok(Self {
                sizes_import,
                get_import,
                ty,
                defined,
                imported,
            }),
            _ => Err("it does not import args_sizes_get and args_get".into()),
        }
    }

    fn sizes_wrapper(&self) -> u32 {
        self.imported + self.defined
    }

    fn get_wrapper(&self) -> u32 {
        self.imported + self.defined + 1
    }
}

/// Rewrites `wasm` so its guest's argv is `prefix` followed by the host's `argv[1..]`, and
/// drops its `.debug_*` sections (DWARF only a debugger reads: 13 MB of the default runtime).
pub fn rewrite(wasm: &[u8], prefix: &[String]) -> Result<Vec<u8>, String> {
    let plan = Plan::scan(wasm)?;
    let mut rewriter = Rewriter {
        plan,
        layout: Layout::of(prefix),
    };
    let mut module = Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| e.to_string())?;
    let out = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .map_err(|e| format!("the rewritten module does not validate: {e}"))?;
    Ok(out)
}

struct Rewriter {
    plan: Plan,
    layout: Layout,
}

impl Reencode for Rewriter {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(match func {
            f if f == self.plan.sizes_import => self.plan.sizes_wrapper(),
            f if f == self.plan.get_import => self.plan.get_wrapper(),
            f => f,
        })
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        functions.function(self.plan.ty).function(self.plan.ty);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_code_section(self, code, section)?;
        code.function(&sizes_body(&self.plan, &self.layout));
        code.function(&get_body(&self.plan, &self.layout));
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        if section.name().starts_with(".debug") {
            return Ok(());
        }
        RoundtripReencoder.parse_custom_section(module, section)
    }
}

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        memory_index: 0,
    }
}

/// `args_sizes_get(argc_ptr, size_ptr)`: the host's counts, with the host's `argv[0]` (if
/// any: node passes none unless told) replaced by the prefix.
fn sizes_body(plan: &Plan, layout: &Layout) -> wasm_encoder::Function {
    let extra = layout.offsets.len() as i32 - 1;
    let mut f = wasm_encoder::Function::new([(2, ValType::I32)]);
    let (argc, errno) = (2, 3);
    f.instruction(&I::LocalGet(0))
        .instruction(&I::LocalGet(1))
        .instruction(&I::Call(plan.sizes_import))
        .instruction(&I::LocalTee(errno))
        .instruction(&I::If(wasm_encoder::BlockType::Empty))
        .instruction(&I::LocalGet(errno))
        .instruction(&I::Return)
        .instruction(&I::End);
    // argc = max(host argc, 1) + prefix - 1
    f.instruction(&I::LocalGet(0))
        .instruction(&I::I32Load(mem(0, 2)))
        .instruction(&I::LocalTee(argc))
        .instruction(&I::I32Const(1))
        .instruction(&I::LocalGet(argc))
        .instruction(&I::Select)
        .instruction(&I::LocalSet(argc));
    f.instruction(&I::LocalGet(0))
        .instruction(&I::LocalGet(argc))
        .instruction(&I::I32Const(extra))
        .instruction(&I::I32Add)
        .instruction(&I::I32Store(mem(0, 2)));
    f.instruction(&I::LocalGet(1))
        .instruction(&I::LocalGet(1))
        .instruction(&I::I32Load(mem(0, 2)))
        .instruction(&I::I32Const(layout.bytes.len() as i32))
        .instruction(&I::I32Add)
        .instruction(&I::I32Store(mem(0, 2)))
        .instruction(&I::I32Const(0))
        .instruction(&I::End);
    f
}

/// `args_get(argv, buf)`: the host writes its arguments after the prefix's slots (its
/// `argv[0]` lands in the prefix's last slot and is overwritten), then the prefix goes in.
fn get_body(plan: &Plan, layout: &Layout) -> wasm_encoder::Function {
    let n = layout.offsets.len() as i32;
    let mut f = wasm_encoder::Function::new([(1, ValType::I32)]);
    let errno = 2;
    f.instruction(&I::LocalGet(0))
        .instruction(&I::I32Const((n - 1) * 4))
        .instruction(&I::I32Add)
        .instruction(&I::LocalGet(1))
        .instruction(&I::I32Const(layout.bytes.len() as i32))
        .instruction(&I::I32Add)
        .instruction(&I::Call(plan.get_import))
        .instruction(&I::LocalTee(errno))
        .instruction(&I::If(wasm_encoder::BlockType::Empty))
        .instruction(&I::LocalGet(errno))
        .instruction(&I::Return)
        .instruction(&I::End);
    for (k, byte) in layout.bytes.iter().enumerate() {
        f.instruction(&I::LocalGet(1))
            .instruction(&I::I32Const(*byte as i32))
            .instruction(&I::I32Store8(mem(k as u64, 0)));
    }
    for (k, offset) in layout.offsets.iter().enumerate() {
        f.instruction(&I::LocalGet(0))
            .instruction(&I::LocalGet(1))
            .instruction(&I::I32Const(*offset as i32))
            .instruction(&I::I32Add)
            .instruction(&I::I32Store(mem(4 * k as u64, 2)));
    }
    f.instruction(&I::I32Const(0)).instruction(&I::End);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_places_each_string_after_the_last() {
        let table: &[(&[&str], &[u8], &[u32])] = &[
            (&["python"], b"python\0", &[0]),
            (&["py", "-m", "x"], b"py\0-m\0x\0", &[0, 3, 6]),
            (&["", "a"], b"\0a\0", &[0, 1]),
        ];
        for (prefix, bytes, offsets) in table {
            let prefix: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
            let layout = Layout::of(&prefix);
            assert_eq!(layout.bytes, *bytes, "{prefix:?}");
            assert_eq!(layout.offsets, *offsets, "{prefix:?}");
        }
    }

    #[test]
    fn a_module_without_the_argument_imports_is_refused() {
        let mut module = Module::new();
        module.section(&wasm_encoder::TypeSection::new());
        let err = rewrite(&module.finish(), &["python".into()]).err().unwrap();
        assert!(err.contains("args_get"), "{err}");
    }
}
