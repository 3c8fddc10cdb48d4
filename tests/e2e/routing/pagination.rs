//! Manifold's own pagination walked page by page with explicit cursors and with rmcp's
//! cursor-following helper, over upstreams that paginate too.

use std::future::Future;

use rmcp::model::PaginatedRequestParams;
use rmcp::service::ServiceError;

use super::rmcp_upstream::RmcpUpstream;
use super::support::{
    all_tool_names, connect, prefixed, rpc_error, set_of, testkit_tools, three_upstreams, within,
    Client,
};
use crate::common::write_config;

pub(crate) type Page = Result<(Vec<String>, Option<String>), ServiceError>;

pub(crate) async fn tool_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_tools(p).await?;
    Ok((
        r.tools.iter().map(|t| t.name.to_string()).collect(),
        r.next_cursor,
    ))
}

pub(crate) async fn prompt_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_prompts(p).await?;
    Ok((
        r.prompts.iter().map(|t| t.name.clone()).collect(),
        r.next_cursor,
    ))
}

pub(crate) async fn resource_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_resources(p).await?;
    Ok((
        r.resources.iter().map(|t| t.uri.clone()).collect(),
        r.next_cursor,
    ))
}

pub(crate) async fn template_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_resource_templates(p).await?;
    let uris = r
        .resource_templates
        .iter()
        .map(|t| t.uri_template.clone())
        .collect();
    Ok((uris, r.next_cursor))
}

/// Walks a list page by page with explicit cursors; returns every page's item names.
pub(crate) async fn walk_pages<F, Fut>(what: &str, mut page: F) -> Vec<Vec<String>>
where
    F: FnMut(Option<PaginatedRequestParams>) -> Fut,
    Fut: Future<Output = Page>,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor
            .clone()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let (items, next) = within(what, page(params))
            .await
            .unwrap_or_else(|e| panic!("{what} (cursor {cursor:?}): {e}"));
        pages.push(items);
        match next {
            Some(next) => {
                assert_ne!(
                    Some(&next),
                    cursor.as_ref(),
                    "{what}: cursor did not advance"
                );
                cursor = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "{what}: more than 100 pages");
    }
}

fn assert_paged(what: &str, pages: &[Vec<String>], unpaged: &[String], page_size: usize) {
    let (last, full) = pages.split_last().expect("at least one page");
    for p in full {
        assert_eq!(
            p.len(),
            page_size,
            "{what}: every page but the last is full: {pages:?}"
        );
    }
    assert!(
        !last.is_empty() && last.len() <= page_size,
        "{what}: last page {last:?}"
    );
    let walked: Vec<String> = pages.concat();
    assert_eq!(
        set_of(what, walked.clone()),
        set_of(what, unpaged.to_vec()),
        "{what}: paged union differs from the one-page list"
    );
    assert_eq!(walked, unpaged, "{what}: pages keep the merged order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_walks_every_page_across_upstreams() {
    // Upstream pages of 2 (testkit --page-size 2, rmcp 2) under Manifold pages of 3.
    let upstream = [
        "--page-size",
        "2",
        "--tools",
        "5",
        "--prompts",
        "4",
        "--resources",
        "4",
    ];
    let (_rmcp_paged, paged) = three_upstreams("page_size = 3", &upstream, &upstream, "").await;
    let (_rmcp_flat, flat) = three_upstreams("page_size = 0", &upstream, &upstream, "").await;
    let (_d1, paged) = write_config(&paged);
    let (_d2, flat) = write_config(&flat);
    let (client, reference) = tokio::join!(connect(&paged), connect(&flat));

    let unpaged = walk_pages("flat tools/list", |p| tool_page(&reference, p)).await;
    assert_eq!(unpaged.len(), 1, "page_size 0 serves one page");
    let unpaged = unpaged.concat();
    let mut expected = prefixed(
        "alpha",
        &testkit_tools(&["gen_0", "gen_1", "gen_2", "gen_3", "gen_4"]),
    );
    expected.extend(prefixed(
        "beta",
        &testkit_tools(&["gen_0", "gen_1", "gen_2", "gen_3", "gen_4"]),
    ));
    expected.extend(prefixed("rmcp", &RmcpUpstream::tool_names()));
    assert_eq!(
        set_of("tools", unpaged.clone()),
        set_of("expected", expected)
    );
    let pages = walk_pages("tools/list", |p| tool_page(&client, p)).await;
    assert_eq!(pages.len(), unpaged.len().div_ceil(3), "{pages:?}");
    assert_paged("tools", &pages, &unpaged, 3);
    // rmcp's own cursor-following helper agrees.
    assert_eq!(all_tool_names(&client).await, unpaged);

    let unpaged = walk_pages("flat prompts/list", |p| prompt_page(&reference, p))
        .await
        .concat();
    assert_eq!(unpaged.len(), 2 * 5 + 2, "{unpaged:?}");
    let pages = walk_pages("prompts/list", |p| prompt_page(&client, p)).await;
    assert_paged("prompts", &pages, &unpaged, 3);

    let unpaged = walk_pages("flat resources/list", |p| resource_page(&reference, p))
        .await
        .concat();
    assert_eq!(unpaged.len(), 2 * 4 + 3, "{unpaged:?}");
    let pages = walk_pages("resources/list", |p| resource_page(&client, p)).await;
    assert_paged("resources", &pages, &unpaged, 3);

    let unpaged = walk_pages("flat templates", |p| template_page(&reference, p))
        .await
        .concat();
    let pages = walk_pages("templates", |p| template_page(&client, p)).await;
    assert_eq!(pages.len(), 1, "3 templates fit one page of 3: {pages:?}");
    assert_paged("templates", &pages, &unpaged, 3);

    // A cursor Manifold never issued is -32602.
    let bad = PaginatedRequestParams::default().with_cursor(Some("not-a-cursor".into()));
    let e = rpc_error(within("bad cursor", client.list_tools(Some(bad))).await);
    assert_eq!(e.code.0, -32602, "{e:?}");

    client.cancel().await.expect("client shutdown");
    reference.cancel().await.expect("client shutdown");
}
