//! Runtime manifests read back from the store: never a panic; an accepted manifest keeps
//! its paths in place and survives a write and a second read unchanged.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/runtime/manifest.rs"]
mod manifest;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The id is taken from the input itself so the id check does not reject everything.
    let id = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_default();
    if let Ok(m) = manifest::parse(data, &id) {
        if let Some(stdlib) = &m.stdlib {
            assert!(!stdlib.starts_with('/') && !stdlib.split('/').any(|p| p == ".."));
        }
        assert!(m.guest_home.starts_with('/') && !m.guest_home.split('/').any(|p| p == ".."));
        let bytes = serde_json::to_vec(&m).expect("a manifest serialises");
        assert_eq!(manifest::parse(&bytes, &id).expect("written manifest reads back"), m);
    }
});
