//! The decode of client messages on arbitrary bytes: it never panics; what it accepts is a
//! message whose every object has unique keys (checked here with serde, an independent reading)
//! and whose id, method and params are what serde reads from the same text; what it refuses as a
//! repeated key really repeats one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifold_protocol::dupes::find_duplicate;
use manifold_protocol::{decode, decode_client, DecodeError, Decoded, Message};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let upstream = decode(data);
    let client = decode_client(data);
    // serde_json::Value keeps the last of repeated keys, so it is compared only where none repeat.
    let unique = find_duplicate(data).is_none();
    match &client {
        Ok(Decoded::Single(message)) => {
            let value: Value = serde_json::from_slice(data).expect("accepted text is JSON");
            let params = match message {
                Message::Request(r) => {
                    assert_eq!(value["method"], r.method.as_str());
                    r.params.as_deref()
                }
                Message::Notification(n) => {
                    assert_eq!(value["method"], n.method.as_str());
                    n.params.as_deref()
                }
                Message::Response(_) => None,
            };
            if let Some(params) = params {
                assert!(find_duplicate(params.get().as_bytes()).is_none());
                let reread: Value = serde_json::from_str(params.get()).expect("params are JSON");
                if unique {
                    assert_eq!(reread, value["params"]);
                }
            }
        }
        Ok(Decoded::Batch(_)) => {}
        Err(DecodeError::Duplicate { .. }) => assert!(!unique),
        Err(_) => {}
    }
    // What a client may send, an upstream may send too (the client decode only adds checks).
    if client.is_ok() {
        assert!(upstream.is_ok());
    }
});
