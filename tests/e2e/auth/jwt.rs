//! JWT bearer tokens: key, algorithm, issuer, audience and expiry checks; the subject as the
//! principal; keys from a JWKS file and from a URL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    assert_refused, common, echo, fixture, initialize, open_session, post, serve, ALICE, ALICE_ENV,
    AUDIENCE, ISSUER, KID,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Claims Manifold's `[auth.jwt]` accepts, for subject `sub`; tests alter them.
fn claims(sub: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now(), "exp": now() + 300})
}

/// An RS256 JWT with `kid` [`KID`], signed with the fixture key `pem` (PKCS#1).
fn jwt(pem: &str, claims: &Value) -> String {
    let pem = std::fs::read_to_string(fixture(pem)).unwrap();
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

/// `[auth]` with alice's static token and JWTs checked against `jwks` (a `jwks_file = …` or
/// `jwks_url = …` line), no leeway.
pub(crate) fn jwt_auth(jwks: &str) -> String {
    format!(
        "[auth]\n[[auth.tokens]]\nprincipal = \"alice\"\nenv = \"{ALICE_ENV}\"\n\
         [auth.jwt]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n{jwks}\nleeway_ms = 0\n"
    )
}

pub(crate) fn jwks_file() -> String {
    format!(
        "jwks_file = {:?}",
        fixture("jwks.json").display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_is_checked_for_key_algorithm_issuer_audience_and_expiry() {
    let up = common::testkit_server("up", &[], "");
    let (_child, url, _dir) = serve(&format!("{}\n{up}", jwt_auth(&jwks_file()))).await;

    let valid = jwt("signing.pem", &claims("carol"));
    let sid = open_session(&url, &valid).await;
    assert_eq!(
        echo(&url, &valid, &sid, "j").await,
        (StatusCode::OK, Some("j".into()))
    );

    let altered = |field: &str, value: Value| {
        let mut c = claims("carol");
        c[field] = value;
        c
    };
    let mut no_exp = claims("carol");
    no_exp.as_object_mut().unwrap().remove("exp");
    let refused = [
        (
            "expired",
            jwt("signing.pem", &altered("exp", json!(now() - 60))),
        ),
        (
            "wrong audience",
            jwt("signing.pem", &altered("aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            jwt(
                "signing.pem",
                &altered("iss", json!("https://evil.example")),
            ),
        ),
        ("missing a required claim", jwt("signing.pem", &no_exp)),
        ("bad signature", jwt("other.pem", &claims("carol"))),
    ];
    for (why, token) in refused {
        let req = post(&url, Some(&token), None, &initialize());
        let challenge = assert_refused(req, &url, Some(&token)).await;
        assert!(
            challenge.contains(&format!("error_description=\"{why}\"")),
            "{why}: {challenge}"
        );
    }
    // A symmetric algorithm is refused whatever the secret (the key set holds public keys).
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("carol"),
        &EncodingKey::from_secret(b"a shared secret"),
    )
    .unwrap();
    let req = post(&url, Some(&hs256), None, &initialize());
    assert_refused(req, &url, Some(&hs256)).await;
    let garbage = "not.a.jwt-at-all";
    assert_refused(
        post(&url, Some(garbage), None, &initialize()),
        &url,
        Some(garbage),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jwt_subject_is_the_principal() {
    let up = common::testkit_server("up", &[], "");
    let (_child, url, _dir) = serve(&format!("{}\n{up}", jwt_auth(&jwks_file()))).await;

    // A session opened with alice's static token is usable with a JWT whose `sub` is alice
    // (the same principal), and not with one whose `sub` is bob.
    let sid = open_session(&url, ALICE).await;
    let alice = jwt("signing.pem", &claims("alice"));
    let bob = jwt("signing.pem", &claims("bob"));
    assert_eq!(
        echo(&url, &alice, &sid, "a").await,
        (StatusCode::OK, Some("a".into()))
    );
    assert_eq!(echo(&url, &bob, &sid, "b").await.0, StatusCode::NOT_FOUND);

    let bobs = open_session(&url, &bob).await;
    assert_eq!(
        echo(&url, &bob, &bobs, "b").await,
        (StatusCode::OK, Some("b".into()))
    );
    assert_eq!(
        echo(&url, &alice, &bobs, "a").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(echo(&url, ALICE, &bobs, "a").await.0, StatusCode::NOT_FOUND);
}

/// Serves the fixture key set at `http://127.0.0.1:PORT/jwks.json`; returns the URL and a
/// count of the requests it answered.
async fn serve_jwks() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = std::fs::read_to_string(fixture("jwks.json")).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/jwks.json"), hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_url_is_fetched_over_http() {
    let (jwks_url, hits) = serve_jwks().await;
    let up = common::testkit_server("up", &[], "");
    let toml = jwt_auth(&format!("jwks_url = {jwks_url:?}"));
    let (_child, url, _dir) = serve(&format!("{toml}\n{up}")).await;

    let valid = jwt("signing.pem", &claims("carol"));
    let sid = open_session(&url, &valid).await;
    assert_eq!(
        echo(&url, &valid, &sid, "u").await,
        (StatusCode::OK, Some("u".into()))
    );
    assert!(
        hits.load(Ordering::SeqCst) >= 1,
        "the key set was never fetched"
    );
    let forged = jwt("other.pem", &claims("carol"));
    assert_refused(
        post(&url, Some(&forged), None, &initialize()),
        &url,
        Some(&forged),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_the_required_scopes_gets_403() {
    let up = common::testkit_server("up", &[], "");
    let auth = format!(
        "{}required_scopes = [\"mcp:tools\", \"mcp:read\"]\n",
        jwt_auth(&jwks_file())
    );
    let (_child, url, _dir) = serve(&format!("{auth}\n{up}")).await;
    let with = |scope: Value| {
        let mut c = claims("carol");
        let claim = if scope.is_array() { "scp" } else { "scope" };
        c[claim] = scope;
        jwt("signing.pem", &c)
    };

    // Space-separated `scope`, and an `scp` array, both count; extra scopes do no harm.
    for token in [
        with(json!("openid mcp:read mcp:tools")),
        with(json!(["mcp:tools", "mcp:read"])),
    ] {
        let sid = open_session(&url, &token).await;
        assert_eq!(echo(&url, &token, &sid, "s").await.0, StatusCode::OK);
    }
    for token in [
        with(json!("mcp:tools")),
        jwt("signing.pem", &claims("carol")),
    ] {
        let r = post(&url, Some(&token), None, &initialize())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains("scope=\"mcp:tools mcp:read\"")
                && challenge.contains("resource_metadata="),
            "{challenge}"
        );
    }
    // The metadata advertises what is required.
    let (status, doc) = super::get_json(&url, "/.well-known/oauth-protected-resource").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["scopes_supported"], json!(["mcp:tools", "mcp:read"]));
}
