//! Inbound authentication of the HTTP face (`[auth]`): static bearer tokens (compared as SHA-256
//! digests in constant time, never logged) and JWT bearer tokens (issuer, audience, expiry,
//! keys from a JWKS). [`AuthLayer`] answers 401 with `WWW-Authenticate` pointing at the RFC 9728
//! metadata, or passes the request on with its [`Principal`] in the extensions. The client's
//! token goes no further: nothing here or downstream of it forwards request headers upstream.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use manifold_config::{Config, Jwt, ANONYMOUS_PRINCIPAL};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use crate::jwks::Jwks;

/// Path of the RFC 9728 protected resource metadata.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Who sent a request (a request extension set by [`AuthLayer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub Arc<str>);

/// Why a request was not authenticated (the token itself is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not valid, and why.
    Invalid(String),
    /// A valid JWT without every scope `auth.jwt.required_scopes` asks for (403).
    InsufficientScope,
}

/// The SHA-256 of each static token, with its principal.
type TokenDigests = Arc<Vec<([u8; 32], Arc<str>)>>;

/// Checks bearer tokens against the configured static tokens and JWT settings.
pub struct Authenticator {
    /// SHA-256 of each static token, with its principal (replaced whole by a reload).
    tokens: parking_lot::RwLock<TokenDigests>,
    jwt: Option<(Jwt, Jwks)>,
    required: bool,
    anonymous: Principal,
    resource: Option<String>,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
    name: String,
    path: String,
    https: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &self.static_tokens().len())
            .field("jwt", &self.jwt.is_some())
            .finish()
    }
}

impl Authenticator {
    /// From `[auth]` (and the HTTP face's path and TLS setting, for the metadata URL). Starts
    /// loading the JWKS when JWT validation is configured.
    pub fn new(config: &Config) -> Authenticator {
        let auth = &config.auth;
        Authenticator {
            tokens: parking_lot::RwLock::new(Arc::new(token_digests(auth))),
            jwt: auth
                .jwt
                .clone()
                .map(|j| (j.clone(), Jwks::start(j.jwks.clone(), j.refresh))),
            required: auth.required(),
            anonymous: Principal(ANONYMOUS_PRINCIPAL.into()),
            resource: auth.resource.clone(),
            authorization_servers: auth.authorization_servers.clone(),
            scopes: auth.scopes.clone(),
            name: config.gateway.name.clone(),
            path: config.listen.path.clone(),
            https: config.listen.tls.is_some(),
        }
    }

    /// Takes the static tokens of a reloaded config (whether auth is required, and JWT
    /// settings, need a restart).
    pub fn reload(&self, config: &Config) {
        let tokens = Arc::new(token_digests(&config.auth));
        *self.tokens.write() = tokens;
    }

    fn static_tokens(&self) -> TokenDigests {
        self.tokens.read().clone()
    }

    /// Whether requests must carry a bearer token.
    pub fn required(&self) -> bool {
        self.required
    }

    /// The principal of a request with these headers.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Rejection> {
        if !self.required {
            return Ok(self.anonymous.clone());
        }
        let token = bearer(headers).ok_or(Rejection::Missing)?;
        let presented = digest(token.as_bytes());
        // Every static token is compared, so the time taken does not tell which one matched.
        let mut found: Option<&Arc<str>> = None;
        let tokens = self.static_tokens();
        for (known, principal) in tokens.iter() {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(principal);
            }
        }
        if let Some(principal) = found {
            return Ok(Principal(principal.clone()));
        }
        match &self.jwt {
            Some((jwt, jwks)) => validate_jwt(token, jwt, jwks).await.map(Principal),
            None => Err(Rejection::Invalid("unknown token".into())),
        }
    }

    /// The scheme and authority clients reach Manifold at.
    fn base(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    /// The RFC 9728 metadata document.
    pub fn metadata(&self, headers: &HeaderMap) -> Value {
        let resource = self
            .resource
            .clone()
            .unwrap_or_else(|| format!("{}{}", self.base(headers), self.path));
        let mut doc = json!({
            "resource": resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
            "resource_name": self.name,
        });
        let required = self.jwt.as_ref().map(|(jwt, _)| &jwt.required_scopes);
        match (self.scopes.is_empty(), required) {
            (false, _) => doc["scopes_supported"] = json!(self.scopes),
            (true, Some(required)) if !required.is_empty() => {
                doc["scopes_supported"] = json!(required)
            }
            _ => {}
        }
        doc
    }

    /// The answer to a rejected request: 401, or 403 for missing scopes.
    pub fn challenge<B: From<String>>(&self, headers: &HeaderMap, why: &Rejection) -> Response<B> {
        let metadata = format!("{}{METADATA_PATH}{}", self.base(headers), self.path);
        let mut value = format!("Bearer resource_metadata=\"{metadata}\"");
        let mut status = StatusCode::UNAUTHORIZED;
        let body = match why {
            Rejection::InsufficientScope => {
                let scopes = self
                    .jwt
                    .as_ref()
                    .map(|(jwt, _)| jwt.required_scopes.join(" "))
                    .unwrap_or_default();
                value.push_str(&format!(
                    ", error=\"insufficient_scope\", scope=\"{scopes}\""
                ));
                status = StatusCode::FORBIDDEN;
                format!("insufficient scope: this resource needs `{scopes}`")
            }
            Rejection::Missing => {
                "authentication required: send Authorization: Bearer <token>".to_string()
            }
            Rejection::Invalid(reason) => {
                let reason = reason.replace(['"', '\\'], "'");
                value.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{reason}\""
                ));
                format!("invalid token: {reason}")
            }
        };
        let mut response = Response::new(B::from(body));
        *response.status_mut() = status;
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        response
    }
}

fn token_digests(auth: &manifold_config::Auth) -> Vec<([u8; 32], Arc<str>)> {
    auth.tokens
        .iter()
        .map(|t| (digest(t.token.expose()), t.principal.as_str().into()))
        .collect()
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Asymmetric algorithms only: a key set holds public keys.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

async fn validate_jwt(token: &str, jwt: &Jwt, jwks: &Jwks) -> Result<Arc<str>, Rejection> {
    let invalid = |why: &str| Rejection::Invalid(why.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(invalid("signature algorithm not accepted"));
    }
    let keys = jwks
        .current()
        .await
        .ok_or_else(|| invalid("signing keys unavailable"))?;
    let find = |set: &jsonwebtoken::jwk::JwkSet| match &header.kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    };
    let jwk = match find(&keys) {
        Some(k) => k,
        None => {
            let fresh = jwks.refreshed().await;
            fresh
                .as_deref()
                .and_then(find)
                .ok_or_else(|| invalid("unknown signing key"))?
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("unusable signing key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&jwt.issuer]);
    validation.set_audience(&[&jwt.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = jwt.leeway.as_secs();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => invalid("expired"),
                ErrorKind::InvalidAudience => invalid("wrong audience"),
                ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                ErrorKind::ImmatureSignature => invalid("not valid yet"),
                ErrorKind::InvalidSignature => invalid("bad signature"),
                ErrorKind::MissingRequiredClaim(_) => invalid("missing a required claim"),
                _ => invalid("invalid"),
            }
        })?;
    let principal = match data
        .claims
        .get(&jwt.principal_claim)
        .and_then(Value::as_str)
    {
        Some(p) if !p.is_empty() => p,
        _ => return Err(invalid("no principal claim")),
    };
    let granted = scopes(&data.claims);
    if !jwt
        .required_scopes
        .iter()
        .all(|s| granted.contains(&s.as_str()))
    {
        return Err(Rejection::InsufficientScope);
    }
    Ok(principal.into())
}

/// The scopes a token grants: `scope` (space-separated, RFC 8693 / RFC 9068) or `scp` (an array
/// or a string).
fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => s.split_whitespace().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Authenticates every request of the service it wraps.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Arc<Authenticator>,
}

impl AuthLayer {
    /// A layer checking with `auth`.
    pub fn new(auth: Arc<Authenticator>) -> AuthLayer {
        AuthLayer { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = RequireAuth<S>;
    fn layer(&self, inner: S) -> RequireAuth<S> {
        RequireAuth {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct RequireAuth<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S, B, R> Service<Request<B>> for RequireAuth<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: From<String> + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match auth.authenticate(request.headers()).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(why) => {
                    tracing::debug!(?why, "request refused: not authenticated");
                    Ok(auth.challenge(request.headers(), &why))
                }
            }
        })
    }
}
