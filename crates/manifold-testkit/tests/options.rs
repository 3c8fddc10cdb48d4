//! `Options`: defaults, flags and the `--config` file.

use manifold_testkit::Options;

#[test]
fn defaults() {
    let o = Options::default();
    assert_eq!(o.name, "testkit");
    assert_eq!((o.tools, o.resources, o.prompts, o.page_size), (0, 3, 0, 0));
    assert_eq!(o.tool_prefix, "");
    assert!(o.http.is_none() && !o.sse && o.crash_after.is_none());
}

#[test]
fn flags_parse() {
    let o = Options::parse_from_args([
        "testkit",
        "--name",
        "a",
        "--tools",
        "4",
        "--page-size",
        "2",
        "--long-names",
        "--tool-prefix",
        "x_",
        "--crash-after",
        "3",
        "--http",
        "127.0.0.1:0",
        "--sse",
        "--session-ttl-requests",
        "5",
        "--latency-ms",
        "7",
    ])
    .unwrap();
    assert_eq!((o.name.as_str(), o.tools, o.page_size), ("a", 4, 2));
    assert!(o.long_names && o.sse);
    assert_eq!(o.tool_prefix, "x_");
    assert_eq!(
        (o.crash_after, o.session_ttl_requests, o.latency_ms),
        (Some(3), Some(5), 7)
    );
    assert_eq!(o.http.as_deref(), Some("127.0.0.1:0"));
    assert!(Options::parse_from_args(["testkit", "--bogus"]).is_err());
}

#[test]
fn toml_config_with_flag_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kit.toml");
    std::fs::write(
        &path,
        "name = \"from-file\"\npage-size = 3\ntool_prefix = \"f_\"\nsse = true\ncrash-after = 9\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let o = Options::parse_from_args(["testkit", "--config", p, "--page-size", "5"]).unwrap();
    assert_eq!(o.name, "from-file");
    assert_eq!(o.page_size, 5);
    assert_eq!(o.tool_prefix, "f_");
    assert!(o.sse);
    assert_eq!(o.crash_after, Some(9));
}

#[test]
fn json_config_and_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kit.json");
    std::fs::write(
        &path,
        r#"{"tools": 2, "long-names": true, "instructions": "hi"}"#,
    )
    .unwrap();
    let o = Options::parse_from_args([
        "testkit",
        "--config",
        path.to_str().unwrap(),
        "--tools",
        "1",
    ])
    .unwrap();
    assert_eq!(o.tools, 1);
    assert!(o.long_names);
    assert_eq!(o.instructions.as_deref(), Some("hi"));
    std::fs::write(&path, r#"{"no-such-key": 1}"#).unwrap();
    assert!(Options::parse_from_args(["testkit", "--config", path.to_str().unwrap()]).is_err());
}
