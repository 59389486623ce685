//! Demo mode (docs/SERVER.md "Demo mode", docs/API.md "Demo mode"): a login that mints a
//! token for any identity, a relay that stores the ciphertext clients send, the list of
//! identities with a card, and the web chat's static files. Insecure by design (anyone
//! can sign in as anyone), so it is off unless `--demo` or `TESSERA_DEMO` asks for it;
//! without it none of these routes exists.
//!
//! The login mints with an app key generated at start and held only in memory, and the
//! server then accepts that key alone: a demo token is worthless to any other server
//! (production on the same data directory included), and no token minted elsewhere is
//! valid in the demo. Demo mode listens on loopback unless `--demo-public` says otherwise.

use std::{collections::HashSet, sync::Arc};

use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use tessera_format::{AppKey, Identity, Timestamp, jwt::DEFAULT_TOKEN_TTL_SECONDS};
use tower_http::services::ServeDir;

use super::{JsonBody, PathParams, QueryParams, check_batch, decode_base64url};
use crate::{
    auth::Caller,
    config::Config,
    error::ApiError,
    server::{AppState, StartError},
    storage::demo_relay::{DemoMessage, DemoMessageKind, DemoRelayStore, NewDemoMessage},
};

/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest conversation label, in characters.
pub const MAX_CONVERSATION_CHARS: usize = 200;
/// Messages in a listing unless `limit` says otherwise.
pub const DEFAULT_MESSAGES_PAGE: u32 = 100;
/// Most messages in one listing.
pub const MAX_MESSAGES_PAGE: u32 = 1000;
/// Ciphertext bytes in one listing at most (but always at least one message): with
/// 16 MiB files, a page of 1000 would not fit in memory.
pub const MAX_PAGE_CIPHERTEXT_BYTES: u64 = 32 * 1024 * 1024;
/// Most identities `GET /demo/users` lists.
pub const MAX_USERS: u32 = 10_000;

/// Path prefixes that belong to the API: never looked up among the web chat's files.
const API_PREFIXES: &[&str] = &[
    "/v1",
    "/demo",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
];

/// Demo mode's settings, checked at start before the database opens.
pub struct DemoSettings {
    /// The ephemeral app key: generated at start, never written anywhere.
    app_key: AppKey,
    app_id: String,
    audience: String,
    token_lifetime_seconds: u64,
    web: Option<ServeDir>,
    max_message_bytes: usize,
}

impl DemoSettings {
    /// Demo mode's settings for `config`, or `None` when it is off. Refuses a listen
    /// address other than loopback unless `demo_public` allows it, and generates the
    /// ephemeral app key the login mints with.
    pub fn from_config(config: &Config) -> Result<Option<Self>, StartError> {
        if !config.demo {
            if config.demo_web_dir.is_some() {
                tracing::warn!(
                    "a demo web directory is set but demo mode is off: no files are served"
                );
            }
            if config.demo_public {
                tracing::warn!("demo_public is set but demo mode is off: it has no effect");
            }
            return Ok(None);
        }
        if !is_loopback(config.listen) && !config.demo_public {
            return Err(StartError::Demo(format!(
                "demo mode lets anyone sign in as anyone, so it listens on loopback only, and \
                 the listen address {} is not loopback (set by --listen, TESSERA_LISTEN or \
                 config.toml). Listen on 127.0.0.1 or [::1], or add --demo-public (or \
                 TESSERA_DEMO_PUBLIC=true) to serve the demo to the network on purpose",
                config.listen
            )));
        }
        let app_key = AppKey::generate().map_err(|error| {
            StartError::Demo(format!("demo mode cannot generate its app key: {error}"))
        })?;
        let web = match &config.demo_web_dir {
            Some(dir) if dir.is_dir() => Some(ServeDir::new(dir)),
            Some(dir) => {
                return Err(StartError::Demo(format!(
                    "the demo web directory {} is not a directory; build the web chat \
                     (scripts/run does) or leave out --demo-web",
                    dir.display()
                )));
            }
            None => None,
        };
        Ok(Some(Self {
            app_key,
            app_id: config.app_id.clone(),
            audience: config.audience.clone(),
            token_lifetime_seconds: DEFAULT_TOKEN_TTL_SECONDS
                .min(config.token_max_lifetime_seconds),
            web,
            max_message_bytes: config.limits.demo_max_message_bytes,
        }))
    }

    /// The body limit of `POST /demo/messages`: the ciphertext's base64url form plus the
    /// normal body limit for everything else.
    pub fn message_body_limit(max_message_bytes: usize, max_body_bytes: usize) -> usize {
        max_message_bytes
            .div_ceil(3)
            .saturating_mul(4)
            .saturating_add(max_body_bytes)
    }
}

impl DemoSettings {
    /// The public half of the ephemeral app key: the only key the server accepts in demo
    /// mode.
    pub fn public_key(&self) -> [u8; 32] {
        self.app_key.public_key()
    }
}

/// Whether `address` is a loopback address (`127.0.0.0/8`, `::1`, or IPv4-mapped
/// `::ffff:127.x.y.z`).
fn is_loopback(address: std::net::SocketAddr) -> bool {
    address.ip().to_canonical().is_loopback()
}

impl std::fmt::Debug for DemoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoSettings")
            .field("app_id", &self.app_id)
            .field("serves_web", &self.web.is_some())
            .finish_non_exhaustive()
    }
}

/// What demo mode needs at run time: its settings and the relay's store.
pub struct DemoMode {
    settings: DemoSettings,
    relay: Arc<dyn DemoRelayStore>,
}

impl DemoMode {
    /// Demo mode with `settings`, relaying through `relay`.
    pub fn new(settings: DemoSettings, relay: Arc<dyn DemoRelayStore>) -> Self {
        Self { settings, relay }
    }

    /// The public half of the ephemeral app key the login mints with.
    pub fn public_key(&self) -> [u8; 32] {
        self.settings.public_key()
    }
}

impl std::fmt::Debug for DemoMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoMode")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn demo_of(state: &AppState) -> Result<&DemoMode, ApiError> {
    state
        .demo
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no such endpoint; see /openapi.json".into()))
}

/// `POST /demo/login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    identity: String,
}

/// Answer of a login.
#[derive(Serialize)]
pub struct LoginResponse {
    identity: String,
    token: String,
    expires_at: u64,
}

/// `POST /demo/login`: a token for any valid identity, no questions asked.
pub async fn login(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let demo = demo_of(&state)?;
    let identity = Identity::new(request.identity)
        .map_err(|e| ApiError::InvalidRequest(format!("identity: {e}")))?;
    let now = Timestamp::now();
    let token = demo.settings.app_key.mint(
        &demo.settings.app_id,
        &demo.settings.audience,
        &identity,
        now,
        demo.settings.token_lifetime_seconds,
    );
    let mut response = Json(LoginResponse {
        identity: identity.as_str().to_owned(),
        token,
        expires_at: now.plus(demo.settings.token_lifetime_seconds).0,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /demo/messages` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    to: Vec<String>,
    conversation: String,
    kind: DemoMessageKind,
    ciphertext: String,
}

/// Answer of a stored message.
#[derive(Serialize)]
pub struct PostMessageResponse {
    id: u64,
    created_at: u64,
}

fn check_conversation(conversation: &str) -> Result<(), ApiError> {
    let chars = conversation.chars().count();
    if !(1..=MAX_CONVERSATION_CHARS).contains(&chars) || conversation.chars().any(char::is_control)
    {
        return Err(ApiError::InvalidRequest(format!(
            "conversation is 1 to {MAX_CONVERSATION_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// `POST /demo/messages`: stores a message from the caller to `to`.
pub async fn post_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<PostMessageRequest>,
) -> Result<(StatusCode, Json<PostMessageResponse>), ApiError> {
    let demo = demo_of(&state)?;
    check_batch("to", &request.to, MAX_RECIPIENTS)?;
    let mut seen = HashSet::with_capacity(request.to.len());
    let mut to = Vec::with_capacity(request.to.len());
    for text in request.to {
        if !seen.insert(text.clone()) {
            return Err(ApiError::InvalidRequest(
                "to must not repeat an identity".into(),
            ));
        }
        to.push(Identity::new(text).map_err(|e| ApiError::InvalidRequest(format!("to: {e}")))?);
    }
    check_conversation(&request.conversation)?;
    let max_message_bytes = demo.settings.max_message_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "a demo message's ciphertext is at most {max_message_bytes} bytes"
        ))
    };
    // Refuse before decoding when even the encoded form is too long.
    if request.ciphertext.len() > max_message_bytes.div_ceil(3).saturating_mul(4) {
        return Err(too_large());
    }
    let ciphertext = decode_base64url("ciphertext", &request.ciphertext)?;
    if ciphertext.len() > max_message_bytes {
        return Err(too_large());
    }
    let now = Timestamp::now().0;
    let id = demo
        .relay
        .post_message(
            NewDemoMessage {
                sender: &caller,
                to: &to,
                conversation: &request.conversation,
                kind: request.kind,
                ciphertext: &ciphertext,
            },
            now,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PostMessageResponse {
            id,
            created_at: now,
        }),
    ))
}

/// `?after=<id>&limit=<n>`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

/// Answer of a listing.
#[derive(Serialize)]
pub struct ListResponse {
    messages: Vec<DemoMessage>,
}

/// `GET /demo/messages`: the caller's messages (sent or received) after `after`.
pub async fn list_messages(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListResponse>, ApiError> {
    let demo = demo_of(&state)?;
    let after = query.after.unwrap_or(0);
    if i64::try_from(after).is_err() {
        return Err(ApiError::InvalidRequest(
            "after is a message id, 0..=9223372036854775807".into(),
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_MESSAGES_PAGE);
    if !(1..=MAX_MESSAGES_PAGE).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1..={MAX_MESSAGES_PAGE}"
        )));
    }
    let messages = demo
        .relay
        .messages(&caller, after, limit, MAX_PAGE_CIPHERTEXT_BYTES)
        .await?;
    Ok(Json(ListResponse { messages }))
}

/// `GET /demo/messages/{id}`: one message the caller sent or receives.
pub async fn get_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<DemoMessage>, ApiError> {
    let demo = demo_of(&state)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| ApiError::InvalidRequest("a message id is a non-negative integer".into()))?;
    demo.relay
        .message(&caller, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such message".into()))
}

/// Answer of `GET /demo/users`.
#[derive(Serialize)]
pub struct UsersResponse {
    identities: Vec<String>,
}

/// `GET /demo/users`: identities with an active card, for the chat's contact list.
pub async fn users(
    State(state): State<AppState>,
    Caller(_): Caller,
) -> Result<Json<UsersResponse>, ApiError> {
    let identities = demo_of(&state)?
        .relay
        .identities_with_active_cards(MAX_USERS)
        .await?;
    Ok(Json(UsersResponse { identities }))
}

/// The page `/` shows in demo mode when no web chat directory is configured.
const NOT_BUILT_PAGE: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Tessera demo</title></head>
<body>
<h1>Tessera demo server</h1>
<p>The server runs in <strong>demo mode</strong> (insecure: anyone can sign in as anyone),
but the web chat is not built, so there is nothing to show here.</p>
<p><code>scripts/run</code> builds the web chat and starts this server with it
(<code>tessera-server serve --demo --demo-web DIR</code>).</p>
</body>
</html>
";

/// Headers of every web chat answer: browsers revalidate each file (a rebuilt chat is
/// picked up at once), never guess content types, and read text as UTF-8.
fn web_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let utf8 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.starts_with("text/") && !value.contains("charset"))
        .and_then(|value| HeaderValue::from_str(&format!("{value}; charset=utf-8")).ok());
    if let Some(utf8) = utf8 {
        headers.insert(header::CONTENT_TYPE, utf8);
    }
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Demo mode's fallback: the web chat's files for every path outside the API (no SPA
/// fallback: a missing file is 404), or a page saying the chat is not built.
pub async fn web_file(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    let Some(demo) = state.demo.as_ref().filter(|_| !is_api_path(path)) else {
        return ApiError::NotFound("no such endpoint; see /openapi.json".into()).into_response();
    };
    let Some(web) = &demo.settings.web else {
        if path != "/" {
            return ApiError::NotFound("no such page: the web chat is not built".into())
                .into_response();
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return ApiError::MethodNotAllowed.into_response();
        }
        let mut response = Html(NOT_BUILT_PAGE).into_response();
        web_headers(&mut response);
        return response;
    };
    match web.clone().try_call(request).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            ApiError::NotFound("no such file in the web chat".into()).into_response()
        }
        Ok(response) if response.status() == StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed.into_response()
        }
        Ok(response) => {
            let mut response = response.map(Body::new);
            web_headers(&mut response);
            response
        }
        Err(error) => {
            ApiError::Internal(format!("reading a web chat file: {error}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_0_0_0_slash_8_and_ipv6_one() {
        for address in [
            "127.0.0.1:8080",
            "127.1.2.3:0",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(is_loopback(address.parse().unwrap()), "{address}");
        }
        for address in [
            "0.0.0.0:8080",
            "192.168.1.10:80",
            "[::]:8080",
            "[::ffff:10.0.0.1]:80",
            "[fe80::1]:80",
        ] {
            assert!(!is_loopback(address.parse().unwrap()), "{address}");
        }
    }
}
