//! Micro-benchmarks of the CPU work Manifold does for one `tools/call`, using the library crates
//! directly (no I/O, no tasks): decode the client's line (with the scan for repeated keys that
//! client messages get), rewrite the tool name, encode the upstream request, decode the
//! upstream's response, rewrite URIs in the result, encode the client's response; plus the name
//! mapping and the catalog lookup that route the call.
//!
//! ```text
//! cargo bench --bench hot_path
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use manifold_protocol::{
    decode, decode_client, encode_request, encode_result, Decoded, Id, LineDecoder, Message,
    RawObject, RawValue,
};
use manifold_router::catalog::{Catalog, Kind, Source, UpstreamLists};
use manifold_router::naming::downstream_name;
use manifold_router::rewrite::content_result;
use serde_json::json;

const NAMESPACE: &str = "t";
const SEPARATOR: &str = "__";

/// What a client sends: a call of the namespaced `echo` tool with a small argument.
const CALL_LINE: &str = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"t__echo","arguments":{"text":"hello, manifold"}}}"#;
/// What the testkit answers to `echo` (no resource: the fast, unparsed path of the URI rewrite).
const TEXT_RESULT_LINE: &str =
    r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello, manifold"}]}}"#;
/// What the testkit answers to `link`: a `resource_link` and an embedded resource to rewrite.
const LINK_RESULT_LINE: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"resource_link","uri":"testkit://t/res/0","name":"res-0","mimeType":"text/plain"},{"type":"resource","resource":{"uri":"testkit://t/res/0","mimeType":"text/plain","text":"resource 0 of t"}}]}}"#;

fn request_params(line: &str) -> Box<RawValue> {
    match decode(line.as_bytes()) {
        Ok(Decoded::Single(Message::Request(r))) => r.params.expect("params"),
        other => panic!("not a request: {other:?}"),
    }
}

/// A call with 4 KiB of arguments at several depths: where a scan of every key would show.
fn big_call_line() -> String {
    let fields: Vec<String> = (0..56)
        .map(|i| format!(r#""field_{i}":{{"text":"value number {i} of the call","n":[{i},2.50,1e3],"ok":true}}"#))
        .collect();
    format!(
        r#"{{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{{"name":"t__echo","arguments":{{{}}},"_meta":{{"progressToken":"p-1"}}}}}}"#,
        fields.join(",")
    )
}

/// (a) The client's line → a request.
fn decode_call(line: &[u8]) -> Message {
    match decode_client(line) {
        Ok(Decoded::Single(m)) => m,
        other => panic!("not one message: {other:?}"),
    }
}

/// (b) As `call_named` does it: parse params, read the name, set the upstream name, re-serialise.
fn rewrite_name(params: &RawValue, original: &str) -> Box<RawValue> {
    let mut obj = RawObject::parse(params).expect("params object");
    let name = obj.get_str("name").expect("name");
    if name != original {
        obj.set_str("name", original);
    }
    obj.to_raw()
}

/// (c) The upstream request with a fresh integer id.
fn encode_upstream(id: i64, params: &RawValue) -> String {
    encode_request(&Id::Num(id), "tools/call", Some(params))
}

/// (d) The upstream's line → the client's line.
fn response_path(line: &[u8], client_id: &Id) -> String {
    let result = match decode(line) {
        Ok(Decoded::Single(Message::Response(r))) => r.outcome.expect("a result"),
        other => panic!("not a response: {other:?}"),
    };
    let result = content_result(result, NAMESPACE);
    encode_result(client_id, &result)
}

/// (e) All of it, in order.
fn whole_call(call: &[u8], upstream_response: &[u8], upstream_id: i64) -> (String, String) {
    let Message::Request(request) = decode_call(call) else {
        panic!("not a request")
    };
    let params = rewrite_name(request.params.as_deref().expect("params"), "echo");
    let upstream = encode_upstream(upstream_id, &params);
    let answer = response_path(upstream_response, &request.id);
    (upstream, answer)
}

fn catalog_of(tools: usize) -> Catalog {
    let lists = UpstreamLists {
        items: [
            (0..tools)
                .map(|i| {
                    json!({
                        "name": format!("tool_{i}"),
                        "description": format!("generated tool {i}"),
                        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}
                    })
                })
                .collect(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ],
    };
    Catalog::build(
        &[Source {
            alias: NAMESPACE,
            namespace: NAMESPACE,
            lists: Some(&lists),
            curate: &Default::default(),
        }],
        SEPARATOR,
    )
}

fn hot_path(c: &mut Criterion) {
    let params = request_params(CALL_LINE);
    let rewritten = rewrite_name(&params, "echo");
    // Sanity: the pieces do what Manifold does.
    assert_eq!(
        rewritten.get(),
        r#"{"name":"echo","arguments":{"text":"hello, manifold"}}"#
    );
    assert!(response_path(LINK_RESULT_LINE.as_bytes(), &Id::Num(42)).contains("t+testkit://"));
    assert_eq!(
        response_path(TEXT_RESULT_LINE.as_bytes(), &Id::Num(42)),
        r#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"hello, manifold"}]}}"#
    );

    let mut g = c.benchmark_group("tools_call");
    g.throughput(Throughput::Elements(1));
    g.bench_function("a_decode_request", |b| {
        b.iter(|| decode_call(black_box(CALL_LINE.as_bytes())))
    });
    g.bench_function("a_decode_request_without_scan", |b| {
        b.iter(|| decode(black_box(CALL_LINE.as_bytes())))
    });
    let big = big_call_line();
    assert!(big.len() > 4096, "{}", big.len());
    g.bench_function("a_decode_request_4k_arguments", |b| {
        b.iter(|| decode_call(black_box(big.as_bytes())))
    });
    // Its parts: the decode an upstream's message gets (no scan), and the scan alone.
    g.bench_function("a_decode_4k_without_scan", |b| {
        b.iter(|| decode(black_box(big.as_bytes())))
    });
    let big_params = request_params(&big);
    g.bench_function("a_scan_4k_params", |b| {
        b.iter(|| manifold_protocol::dupes::find_duplicate(black_box(big_params.get().as_bytes())))
    });
    g.bench_function("b_rewrite_name", |b| {
        b.iter(|| rewrite_name(black_box(&params), black_box("echo")))
    });
    let mut id = 0i64;
    g.bench_function("c_encode_upstream_request", |b| {
        b.iter(|| {
            id += 1;
            encode_upstream(black_box(id), black_box(&rewritten))
        })
    });
    g.bench_function("d_response_text", |b| {
        b.iter(|| response_path(black_box(TEXT_RESULT_LINE.as_bytes()), &Id::Num(42)))
    });
    g.bench_function("d_response_resource_link", |b| {
        b.iter(|| response_path(black_box(LINK_RESULT_LINE.as_bytes()), &Id::Num(42)))
    });
    let mut id = 0i64;
    g.bench_function("e_whole_call_text", |b| {
        b.iter(|| {
            id += 1;
            whole_call(
                black_box(CALL_LINE.as_bytes()),
                black_box(TEXT_RESULT_LINE.as_bytes()),
                id,
            )
        })
    });
    let mut id = 0i64;
    g.bench_function("e_whole_call_resource_link", |b| {
        b.iter(|| {
            id += 1;
            whole_call(
                black_box(CALL_LINE.as_bytes()),
                black_box(LINK_RESULT_LINE.as_bytes()),
                id,
            )
        })
    });
    // Framing of one line as the stdio face and the upstream reader do it (not in (e)).
    let mut decoder = LineDecoder::new(4 * 1024 * 1024);
    let mut frames = Vec::with_capacity(1);
    let framed = format!("{CALL_LINE}\n");
    g.bench_function("line_decoder_feed", |b| {
        b.iter(|| {
            decoder.feed(black_box(framed.as_bytes()), &mut frames);
            frames.pop()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("routing");
    g.bench_function("downstream_name", |b| {
        b.iter(|| {
            downstream_name(
                black_box(NAMESPACE),
                black_box(SEPARATOR),
                black_box("echo"),
            )
        })
    });
    let catalog = catalog_of(1_000);
    assert_eq!(catalog.list(Kind::Tools).json.len(), 1_000);
    let name = "t__tool_517";
    assert!(catalog.lookup(Kind::Tools, name).is_some());
    g.bench_function("catalog_lookup_1000_tools", |b| {
        b.iter(|| {
            catalog
                .lookup(Kind::Tools, black_box(name))
                .map(|t| t.upstream)
        })
    });
    // `resolve_name` clones the target it finds (its `original` is a String).
    g.bench_function("catalog_lookup_1000_tools_cloned", |b| {
        b.iter(|| catalog.lookup(Kind::Tools, black_box(name)).cloned())
    });
    g.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
