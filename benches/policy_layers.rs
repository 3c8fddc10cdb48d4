//! Micro-benchmarks of the policy layers' CPU work for one `tools/call` (no I/O): argument
//! parsing and validation, a rate-limit check, a view check, and the whole stack (`Policy::call`) around
//! an upstream that answers at once, with every layer on (audit to a file) and with them off.
//!
//! ```text
//! cargo bench --bench policy_layers
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use manifold_config::{Config, Format};
use manifold_metrics::Metrics;
use manifold_policy::rate_limit::Limiter;
use manifold_policy::{ArgumentSchema, Call, ItemKind, Policy};
use manifold_protocol::RawValue;
use serde_json::{json, Value};

const ARGS: &str = r#"{"text":"hello, manifold","api_key":"k"}"#;
const RESULT: &str = r#"{"content":[{"type":"text","text":"hello, manifold"}]}"#;

fn config(toml: &str) -> Config {
    manifold_config::load_str(toml, Format::Toml).expect("config")
}

fn server() -> &'static str {
    "[servers.t]\ncommand = \"testkit\"\n"
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"text": {"type": "string", "description": "Text to echo back"}}, "required": ["text"]})
}

fn call(policy: &Policy, schema: Option<Arc<ArgumentSchema>>) -> Call {
    Call {
        principal: "bench".into(),
        session: 1,
        view: policy.view("bench"),
        method: "tools/call",
        kind: ItemKind::Tool,
        name: "t__echo".into(),
        server: policy.server("t"),
        arguments: Some(serde_json::from_str(ARGS).unwrap()),
        arguments_text: Some(serde_json::value::RawValue::from_string(ARGS.to_string()).unwrap()),
        schema,
        timeout: Some(Duration::from_secs(60)),
        forward: Some(Box::new(|_call: &Call| {
            Box::pin(async { Ok(RawValue::from_string(RESULT.to_string()).unwrap()) })
        })),
    }
}

fn layers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let on = config(&format!(
        "[[access]]\nprincipal = \"bench\"\ntools = {{ deny = [\"t__crash\", \"t__hang\"] }}\n\
         [[limits]]\nname = \"everything\"\nrate = 1000000000\nburst = 1000000000\n\
         [audit]\nfile = {:?}\n{}",
        dir.path().join("audit.jsonl").display().to_string(),
        server()
    ));
    let off = config(&format!("[audit]\nenabled = false\n{}", server()));
    let schema = Arc::new(ArgumentSchema::compile("t__echo", &schema()));
    let args: Value = serde_json::from_str(ARGS).unwrap();
    assert!(schema.problems(&args).is_empty());

    let mut g = c.benchmark_group("policy");
    g.bench_function("parse_arguments", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(ARGS)).unwrap())
    });
    g.bench_function("validate_valid_arguments", |b| {
        b.iter(|| schema.problems(black_box(&args)))
    });
    let metrics = Arc::new(Metrics::new());
    let limiter = Limiter::new(&on.limits, metrics.clone());
    let policy_on = Policy::new(&on, metrics.clone()).unwrap();
    let policy_off = Policy::new(&off, metrics).unwrap();
    let probe = call(&policy_on, None);
    g.bench_function("rate_limit_check", |b| {
        b.iter(|| limiter.check(black_box(&probe)).is_ok())
    });
    let view = policy_on.view("bench");
    g.bench_function("view_allows", |b| {
        b.iter(|| view.allows(ItemKind::Tool, black_box("t__echo")))
    });
    for (label, policy, validated) in [
        ("stack_off", &policy_off, false),
        ("stack_on", &policy_on, true),
    ] {
        let schema = schema.clone();
        g.bench_function(label, |b| {
            b.iter(|| {
                let call = call(policy, validated.then(|| schema.clone()));
                rt.block_on(policy.call(call))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
