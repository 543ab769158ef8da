//! The guest/host contract, written on both sides: the shims' Python (`shims/`) and the
//! launcher's Rust must agree on the bridge's directory, frame header, kinds and operation
//! names, on the private `__WASIPY_*` variables and on the host facts' fields.

use std::path::Path;
use wasipy::bridge::{self, frame};
use wasipy::guest::{self, host};

fn shim(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("shims")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_shims() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shims");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".py"))
        .collect();
    names.sort();
    names.iter().map(|n| shim(n)).collect::<Vec<_>>().join("\n")
}

/// The operation each bridge call in the shims sends: the first quoted string among the
/// arguments of a `call(`, `_call(` (a descriptor first) or a socket's `_do(`.
fn operations_called(source: &str) -> Vec<String> {
    let mut ops = Vec::new();
    for opener in ["call(", "_do("] {
        let mut rest = source;
        while let Some(at) = rest.find(opener) {
            rest = &rest[at + opener.len()..];
            let args = &rest[..rest.find(')').unwrap_or(rest.len())];
            let first = args.split('"').nth(1);
            if let Some(op) = first.filter(|op| *op == "ping" || op.contains('.')) {
                ops.push(op.to_owned());
            }
        }
    }
    ops.sort();
    ops.dedup();
    ops
}

/// Every `__WASIPY_NAME` a source mentions.
fn private_vars(source: &str) -> Vec<String> {
    let mut vars: Vec<String> = source
        .match_indices(guest::PRIVATE_PREFIX)
        .map(|(at, _)| {
            source[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

#[test]
fn the_frame_header_is_the_same_on_both_sides() {
    let bridge_py = shim("_wasipy_bridge.py");
    let magic = String::from_utf8(frame::MAGIC.to_vec()).unwrap();
    for line in [
        format!("GUEST_DIR = \"{}\"", bridge::GUEST_DIR),
        format!("MAGIC = b\"{magic}\""),
        format!("VERSION = {}", frame::VERSION),
        format!(
            "REQUEST, REPLY, ERROR = {}, {}, {}",
            frame::Kind::Request as u8,
            frame::Kind::Reply as u8,
            frame::Kind::Error as u8
        ),
        // magic, version, kind, reserved u16, meta length, body length.
        "_HEADER = struct.Struct(\"<4sBBHII\")".to_owned(),
    ] {
        assert!(
            bridge_py.contains(&line),
            "_wasipy_bridge.py lacks `{line}`"
        );
    }
    assert_eq!(frame::HEADER_LEN, 4 + 1 + 1 + 2 + 4 + 4);
}

#[test]
fn the_shims_call_only_operations_the_bridge_answers_and_use_every_one() {
    let called = operations_called(&all_shims());
    for op in &called {
        assert!(
            bridge::OPERATIONS.contains(&op.as_str()),
            "a shim calls `{op}`, which the bridge does not answer"
        );
    }
    for op in bridge::OPERATIONS {
        // `ping` is the launcher's own liveness check (tests and the fuzzer send it).
        assert!(
            *op == "ping" || called.iter().any(|c| c == op),
            "the bridge answers `{op}`, which no shim calls"
        );
    }
}

#[test]
fn private_variables_and_host_facts_match() {
    let shim_py = shim("_wasipy_shim.py");
    let mut expected = vec![guest::CWD_VAR, guest::HOST_VAR, guest::SCRIPT_VAR];
    expected.sort();
    assert_eq!(private_vars(&all_shims()), expected);
    for var in expected {
        assert!(
            shim_py.contains(&format!("_os.environ.pop(\"{var}\"")),
            "the shim does not remove {var}"
        );
    }
    let fields = host::FACTS.join(", ");
    let unpack = format!("{fields} = (int(x) for x in facts.split(\",\"))");
    assert!(
        shim_py.contains(&unpack),
        "the shim does not read the host facts as {:?}",
        host::FACTS
    );
}
