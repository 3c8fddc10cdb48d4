//! The in-place URI rewrite on arbitrary bytes: it never panics, and for any valid JSON result it
//! changes exactly the URIs it must — each to `<namespace>+<uri>` — and not one other byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifold_protocol::dupes::find_duplicate;
use manifold_protocol::RawValue;
use manifold_router::rewrite::{content_result, read_result};
use serde_json::Value;

#[path = "../../crates/manifold-router/src/rewrite_check.rs"]
#[allow(dead_code, unreachable_pub)]
mod check;

/// `check` refers to the naming module as `crate::naming`.
mod naming {
    pub(crate) use manifold_router::naming::downstream_uri;
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(raw) = RawValue::from_string(text.to_string()) else {
        return;
    };
    // A raw value holds the JSON text without the whitespace around it.
    let before = raw.get().to_string();
    let content = content_result(raw.clone(), "ns");
    let read = read_result(raw, "ns");
    // The reference reading: serde_json::Value, where keys are unique and strings are Unicode.
    if find_duplicate(before.as_bytes()).is_some() {
        return;
    }
    let Ok(value) = serde_json::from_str::<Value>(&before) else {
        return;
    };
    check::only_uris_changed(&before, content.get(), "ns", check::content_uris(&value)).unwrap();
    check::only_uris_changed(&before, read.get(), "ns", check::read_uris(&value)).unwrap();
});
