//! The crate's shape, read from its own source: no import cycle between modules, no module
//! using one from a layer above its own (the layers the README's Architecture section
//! names), no file over 600 lines and no function over 80 lines outside tests.
//!
//! A module is a source file; its dependencies are the `crate::`, `super::` and child-module
//! paths in its code (tests excluded), each resolved to the longest module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. A module may use its own top-level module's
/// submodules and any module of a lower layer; only the base layer's modules use each other.
const LAYERS: &[&[&str]] = &[
    &["dirs", "fsio", "http", "index", "settings", "stop", "timer"],
    &["guest"],
    &["bridge", "runtime"],
    &["engine", "venv"],
    &["pack"],
    &["cli", "launcher"],
];
const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `guest/plan.rs` -> `guest::plan`; `guest/mod.rs` -> `guest`; `lib.rs` -> ``.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod" && p != "lib" && p != "main")
        .collect();
    parts.join("::")
}

/// The source without its `#[cfg(test)]` module (always last in this crate) and comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a module's code names: `crate::a::{b, c::d}` gives `a::b` and `a::c::d`;
/// `super::x` and, in a `mod.rs`, a child's bare name (`frame::encode`) count too.
fn paths_in(code: &str, module: &str, children: &[String]) -> Vec<String> {
    let parent = module.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
    let mut prefixes = vec![("crate::".to_owned(), String::new())];
    prefixes.push(("super::".to_owned(), parent.to_owned()));
    for child in children {
        let full = format!("{module}::{child}")
            .trim_start_matches("::")
            .to_owned();
        prefixes.push((format!("{child}::"), full));
    }
    let mut found = Vec::new();
    for (prefix, base) in &prefixes {
        let mut rest = code;
        while let Some(at) = rest.find(prefix.as_str()) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            expand(base, rest, &mut found);
        }
    }
    found
}

/// The submodules a file declares (`mod x;`, `pub mod x;`).
fn children_of(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Expands the use-tree at the start of `rest` (after a prefix) into full paths under `base`.
fn expand(base: &str, rest: &str, out: &mut Vec<String>) {
    let join = |a: &str, b: &str| match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}::{b}"),
    };
    let path: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let path = path.trim_end_matches(':');
    let after = &rest[path.len()..];
    let full = join(base, path);
    if let Some(group) = after
        .strip_prefix("::{")
        .or_else(|| after.strip_prefix('{'))
    {
        let mut depth = 1;
        let end = group
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap_or(group.len());
        let inner = &group[..end];
        for item in split_top(inner) {
            let item = item.trim();
            if item == "self" || item.is_empty() {
                out.push(full.clone());
            } else {
                expand(&full, item, out);
            }
        }
    } else {
        out.push(full);
    }
}

/// Splits a use-group's items at its top-level commas.
fn split_top(inner: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
}

/// The longest known module that `path` starts with.
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// Each module's uses of other modules (itself excluded).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        if module.is_empty() {
            continue; // lib.rs and main.rs: the crate root wires the layers together
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let children = children_of(&code);
        let mut uses: BTreeSet<String> = paths_in(&code, &module, &children)
            .iter()
            .filter_map(|p| resolve(p, &modules))
            .collect();
        uses.remove(&module);
        uses.remove("");
        graph.insert(module, uses);
    }
    graph
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top(module)))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/architecture.rs"))
}

#[test]
fn the_module_graph_is_read_from_the_use_lines() {
    let graph = graph();
    let uses = |m: &str, d: &str| graph[m].contains(d);
    assert!(
        uses("engine::run", "bridge::proc"),
        "{:?}",
        graph["engine::run"]
    );
    assert!(
        uses("bridge::proc", "guest::plan"),
        "{:?}",
        graph["bridge::proc"]
    );
    assert!(uses("bridge", "bridge::frame"), "{:?}", graph["bridge"]);
    assert!(
        uses("launcher", "launcher::decide"),
        "{:?}",
        graph["launcher"]
    );
    assert!(
        uses("guest::plan", "guest::cmdline"),
        "{:?}",
        graph["guest::plan"]
    );
}

#[test]
fn no_module_uses_a_higher_layer() {
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        for used in uses {
            let same_top = top(&module) == top(&used);
            let ok = same_top || layer(&used) < layer(&module) || layer(&module) == 0;
            if !ok {
                wrong.push(format!("{module} -> {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "uses against the layering: {wrong:#?}");
}

#[test]
fn no_import_cycle() {
    let graph = graph();
    // Depth-first search with colours; a grey module met again closes a cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(1) => {
                let from = stack.iter().position(|s| s == m).unwrap();
                return Some(stack[from..].to_vec());
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(m.to_owned(), 1);
        stack.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(m.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut state, &mut Vec::new());
        assert!(cycle.is_none(), "import cycle: {cycle:?}");
    }
}

#[test]
fn files_and_functions_stay_small() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        if text.lines().count() > MAX_FILE_LINES {
            long.push(format!("{name}: {} lines", text.lines().count()));
        }
        let code = text.split("#[cfg(test)]").next().unwrap();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "async fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            // A declaration without a body (in a trait) ends at `;` before any `{`.
            let declared = lines[i..]
                .iter()
                .map(|l| l.trim_end())
                .find(|l| l.ends_with('{') || l.ends_with(';'))
                .is_some_and(|l| l.ends_with(';'));
            if !is_fn || declared || trimmed.ends_with('}') {
                continue;
            }
            // rustfmt closes a function at its own indentation.
            let close = format!("{}}}", &line[..line.len() - trimmed.len()]);
            let len = lines[i..].iter().position(|l| *l == close).map(|n| n + 1);
            if let Some(len) = len.filter(|n| *n > MAX_FN_LINES) {
                long.push(format!("{name}:{}: a function of {len} lines", i + 1));
            }
        }
    }
    assert!(long.is_empty(), "over the limits: {long:#?}");
}
