//! Bridge frames as the host receives them from the guest: never a panic, a verdict for any
//! prefix, and a whole frame re-encodes to the bytes it was read from (up to JSON spelling).
#![no_main]

#[allow(dead_code)]
#[path = "../../src/bridge/frame.rs"]
mod frame;

use frame::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match frame::parse(data) {
        Parsed::Frame(f, used) => {
            assert!(used <= data.len());
            let bytes = frame::encode(f.kind, &serde_json::Value::Object(f.meta.clone()), &f.body);
            match frame::parse(&bytes) {
                Parsed::Frame(g, n) => {
                    assert_eq!(f, g);
                    assert_eq!(n, bytes.len());
                }
                other => panic!("re-encoded frame did not parse: {other:?}"),
            }
        }
        Parsed::Incomplete => assert!(data.len() < frame::HEADER_LEN + frame::MAX_META + frame::MAX_BODY),
        Parsed::Invalid(_) => {}
    }
    // Every prefix of the input gets a verdict too (the host parses as bytes arrive).
    let cut = data.len() / 2;
    let _ = frame::parse(&data[..cut]);
});
