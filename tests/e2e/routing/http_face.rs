//! The same rmcp client over Streamable HTTP: Manifold's HTTP face (`manifold serve --listen`)
//! fronting the two testkits and the rmcp server, reached with rmcp's
//! `StreamableHttpClientTransport`.

use rmcp::model::GetPromptRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;

use super::support::{
    all_tool_names, args, call, client_config, read, texts, three_upstreams, within,
};
use crate::common::write_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rmcp_client_over_streamable_http() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&format!("[admin]\nlisten = \"off\"\n{text}"));
    let (_gateway, url, _) = crate::common::serve_http(&config).await;

    let transport = StreamableHttpClientTransport::from_uri(url);
    let client = within("the initialize handshake", client_config().serve(transport))
        .await
        .expect("rmcp client initializes over Streamable HTTP");
    let names = all_tool_names(&client).await;
    for name in ["alpha__echo", "beta__add", "rmcp__sum", "rmcp__shout"] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
    let r = call(&client, "rmcp__sum", json!({ "a": 40, "b": 2 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 42 })), "{r:?}");
    let r = call(&client, "alpha__echo", json!({ "text": "über http" })).await;
    assert_eq!(texts(&r.content), vec!["über http".to_string()]);
    let (uri, text) = read(&client, "beta+testkit://beta/res/1").await;
    assert_eq!(
        (uri.as_str(), text.as_str()),
        ("beta+testkit://beta/res/1", "resource 1 of beta")
    );
    let mut greet = GetPromptRequestParams::new("alpha__greet");
    greet.arguments = Some(args(json!({ "name": "rmcp" })));
    let prompt = within("prompts/get", client.get_prompt(greet))
        .await
        .expect("prompt");
    assert!(
        format!("{:?}", prompt.messages).contains("Hello, rmcp!"),
        "{prompt:?}"
    );
    client.cancel().await.expect("client shutdown");
}
