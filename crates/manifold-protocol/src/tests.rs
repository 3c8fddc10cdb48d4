//! Golden-JSON tests for the edges of the wire model.

use crate::codec::{sniff_id, to_line};
use crate::*;

fn single(text: &str) -> Message {
    match decode(text.as_bytes()) {
        Ok(Decoded::Single(m)) => m,
        other => panic!("expected one message from {text}, got {other:?}"),
    }
}

#[test]
fn string_and_integer_ids_stay_distinct() {
    let a = single(r#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#);
    let b = single(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    let (Message::Request(a), Message::Request(b)) = (a, b) else {
        panic!("requests expected")
    };
    assert_eq!(a.id, Id::from("7"));
    assert_eq!(b.id, Id::Num(7));
    assert_ne!(a.id, b.id);
    assert_eq!(
        encode_result(&a.id, &RawValue::from_string("{}".into()).unwrap()),
        r#"{"jsonrpc":"2.0","id":"7","result":{}}"#
    );
    assert_eq!(
        encode_result(&b.id, &RawValue::from_string("{}".into()).unwrap()),
        r#"{"jsonrpc":"2.0","id":7,"result":{}}"#
    );
}

#[test]
fn absent_id_is_a_notification_and_null_id_is_invalid() {
    assert!(matches!(
        single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Message::Notification(_)
    ));
    let err = decode(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_REQUEST);
    assert!(err.id().is_none());
}

#[test]
fn fractional_and_object_ids_are_invalid() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
    ] {
        let err = decode(text.as_bytes()).unwrap_err();
        assert_eq!(err.to_error().code, code::INVALID_REQUEST, "{text}");
    }
}

#[test]
fn malformed_json_is_a_parse_error() {
    let err = decode(b"{\"jsonrpc\":").unwrap_err();
    assert_eq!(err.to_error().code, code::PARSE_ERROR);
    let err = decode(b"not json").unwrap_err();
    assert_eq!(err.to_error().code, code::PARSE_ERROR);
}

#[test]
fn wrong_shapes_are_invalid_requests_with_their_id() {
    let err = decode(br#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#).unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_REQUEST);
    assert_eq!(err.id(), Some(&Id::Num(3)));
    let err = decode(br#"{"jsonrpc":"2.0","id":4,"method":7}"#).unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_REQUEST);
    let err = decode(br#"{"jsonrpc":"2.0","id":5,"method":"x","params":"s"}"#).unwrap_err();
    assert_eq!(err.id(), Some(&Id::Num(5)));
    let err = decode(b"42").unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_REQUEST);
}

#[test]
fn unknown_fields_and_meta_pass_through_byte_for_byte() {
    let params = r#"{"name":"x","arguments":{"b":1,"a":[1,2.50]},"_meta":{"progressToken":"p","vendor.x/y":{"z":null}},"future":true}"#;
    let text =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params},"extra":1}}"#);
    let Message::Request(req) = single(&text) else {
        panic!()
    };
    assert_eq!(req.params.as_deref().unwrap().get(), params);
    let out = encode_request(&Id::Num(9), &req.method, req.params.as_deref());
    assert_eq!(
        out,
        format!(r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{params}}}"#)
    );
}

#[test]
fn unknown_methods_decode_as_requests() {
    let Message::Request(req) =
        single(r#"{"jsonrpc":"2.0","id":2,"method":"vendor/thing","params":{}}"#)
    else {
        panic!()
    };
    assert_eq!(req.method, "vendor/thing");
}

#[test]
fn batches_are_recognised() {
    let text = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]"#;
    let Decoded::Batch(items) = decode(text.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(
        decode_one(&items[0]).unwrap(),
        Message::Request(_)
    ));
    assert!(version::allows_batches("2025-03-26"));
    assert!(!version::allows_batches("2025-06-18"));
    assert!(!version::allows_batches("2024-11-05"));
}

#[test]
fn responses_and_errors() {
    let Message::Response(r) = single(r#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#) else {
        panic!()
    };
    assert_eq!(r.outcome.unwrap().get(), r#"{"x":1}"#);
    let Message::Response(r) =
        single(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad","data":[1]}}"#)
    else {
        panic!()
    };
    assert!(r.id.is_none());
    let e = r.outcome.unwrap_err();
    assert_eq!(e.code, -32700);
    assert_eq!(e.data.unwrap().get(), "[1]");
    assert!(decode(br#"{"jsonrpc":"2.0","id":1}"#).is_err());
}

#[test]
fn error_encoding_without_a_readable_id_omits_it() {
    let e = ErrorObject::new(code::PARSE_ERROR, "Parse error");
    assert_eq!(
        encode_error(None, &e),
        r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}"#
    );
}

#[test]
fn raw_object_rewrites_one_field() {
    let raw =
        RawValue::from_string(r#"{"name":"a__echo","arguments":{"t":"x  y"}}"#.into()).unwrap();
    let mut obj = RawObject::parse(&raw).unwrap();
    assert_eq!(obj.get_str("name").as_deref(), Some("a__echo"));
    obj.set_str("name", "echo");
    assert_eq!(
        obj.to_raw().get(),
        r#"{"name":"echo","arguments":{"t":"x  y"}}"#
    );
}

#[test]
fn line_decoder_frames_and_limits() {
    let mut d = LineDecoder::new(16);
    let mut out = Vec::new();
    d.feed(b"{\"a\":1}\r\n\n  \n{\"b\"", &mut out);
    d.feed(b":2}\n", &mut out);
    d.feed(b"0123456789abcdefXYZ", &mut out);
    d.feed(b"more\n{}\n", &mut out);
    d.feed(b"tail", &mut out);
    d.finish(&mut out);
    assert_eq!(
        out,
        vec![
            Frame::Line(b"{\"a\":1}".to_vec()),
            Frame::Line(b"{\"b\":2}".to_vec()),
            Frame::Oversized {
                prefix: b"0123456789abcdefXYZmore".to_vec(),
                len: 23
            },
            Frame::Line(b"{}".to_vec()),
            Frame::Line(b"tail".to_vec()),
        ]
    );
}

#[test]
fn stdio_lines_never_embed_newlines() {
    assert_eq!(
        to_line("{\n \"a\": \"x\\ny\"\r\n}".into()),
        "{  \"a\": \"x\\ny\"  }\n"
    );
}

#[test]
fn id_sniffing_from_truncated_prefix() {
    assert_eq!(
        sniff_id(br#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"te"#),
        Some(Id::Num(42))
    );
    assert_eq!(
        sniff_id(br#"{"id": "k-1", "jsonrpc":"2.0""#),
        Some(Id::from("k-1"))
    );
    assert_eq!(
        sniff_id(br#"{"jsonrpc":"2.0","result":{"text":"xxxx"#),
        None
    );
}

#[test]
fn version_negotiation() {
    assert_eq!(version::negotiate("2025-06-18"), "2025-06-18");
    assert_eq!(version::negotiate("2024-11-05"), "2024-11-05");
    assert_eq!(version::negotiate("1999-01-01"), version::LATEST);
}

#[test]
fn a_readable_id_is_kept_on_every_invalid_request() {
    for text in [
        r#"{"jsonrpc":"2.0","id":4,"method":7}"#,
        r#"{"jsonrpc":2,"id":4,"method":"ping"}"#,
        r#"{"id":4,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"ping","method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"x","params":{},"params":{}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":["x"],"params":"s"}"#,
        r#"{"jsonrpc":"2.0","id":4,"result":{},"error":{"code":1,"message":"m"}}"#,
        r#"{"jsonrpc":"2.0","id":4,"error":"nope"}"#,
    ] {
        let err = decode_client(text.as_bytes()).unwrap_err();
        assert_eq!(err.to_error().code, code::INVALID_REQUEST, "{text}");
        assert_eq!(err.id(), Some(&Id::Num(4)), "{text}");
    }
    // Two different ids: no id can be told.
    let err = decode_client(br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#).unwrap_err();
    assert_eq!(err.id(), None);
    let err = decode_client(br#"{"jsonrpc":"2.0","id":"a","id":"a","method":"ping"}"#).unwrap_err();
    assert_eq!(err.id(), Some(&Id::from("a")));
}

#[test]
fn duplicate_keys_in_client_params_are_invalid_params_with_their_path() {
    let text = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"a__echo","arguments":{"q":{"x":1,"x":2}}}}"#;
    let err = decode_client(text.as_bytes()).unwrap_err();
    let e = err.to_error();
    assert_eq!(e.code, code::INVALID_PARAMS);
    assert_eq!(err.id(), Some(&Id::Num(9)));
    assert_eq!(
        e.data.unwrap().get(),
        r#"{"reason":"duplicate_key","key":"x","path":"/params/arguments/q"}"#
    );
    let DecodeError::Duplicate { method, .. } = err else {
        panic!()
    };
    assert_eq!(method.as_deref(), Some("tools/call"));
    // The same message from an upstream is its own business: it decodes.
    assert!(decode(text.as_bytes()).is_ok());
    // The name twice, the second escaped.
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","n\u0061me":"hidden"}}"#;
    assert_eq!(
        decode_client(text.as_bytes()).unwrap_err().to_error().code,
        code::INVALID_PARAMS
    );
}

#[test]
fn duplicate_envelope_keys_are_invalid_from_anyone() {
    let text =
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","method":"tools/call","params":{}}"#;
    for result in [decode(text.as_bytes()), decode_client(text.as_bytes())] {
        let err = result.unwrap_err();
        assert_eq!(err.to_error().code, code::INVALID_REQUEST);
        assert_eq!(err.id(), Some(&Id::Num(3)));
        let DecodeError::Duplicate { method, key, .. } = err else {
            panic!()
        };
        assert_eq!(
            (method.as_deref(), key.as_str()),
            (Some("tools/call"), "method")
        );
    }
    let err = decode(br#"{"jsonrpc":"2.0","id":3,"result":{},"x":1,"x":2}"#).unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_REQUEST);
}

#[test]
fn batch_elements_from_clients_are_checked_for_duplicates() {
    let raw = RawValue::from_string(
        r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"a://x","uri":"b://y"}}"#
            .into(),
    )
    .unwrap();
    let err = decode_one_client(&raw).unwrap_err();
    assert_eq!(err.to_error().code, code::INVALID_PARAMS);
    assert!(decode_one(&raw).is_ok());
}
