//! The HTTP contract of tessera-server (docs/API.md), as typed calls: one method per
//! endpoint the client uses, the bearer token on every call, and one retry with a fresh
//! token after a 401. Nothing here is trusted: cards are verified by the callers.

use std::sync::Arc;

use serde::{Deserialize, de::DeserializeOwned};

use super::{
    Error,
    token::TokenCache,
    transport::{HttpRequest, HttpResponse, HttpTransport, Method},
};
use tessera_format::{
    card::{Card, CardId},
    encoding::{b64url_bytes, b64url_encode},
};

/// Most identities or card ids one search or outdated request may carry.
pub(crate) const MAX_BATCH: usize = 1000;

/// A card as the directory lists it. Only `snapshot` and `signature` are trusted, after
/// verification; the other fields are hints.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CardRecord {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) identity: String,
    #[serde(with = "b64url_bytes")]
    pub(crate) snapshot: Vec<u8>,
    #[serde(with = "b64url_bytes")]
    pub(crate) signature: Vec<u8>,
    #[serde(default)]
    #[allow(dead_code)] // Part of the contract; the client decides from verified cards.
    pub(crate) status: String,
}

#[derive(Deserialize)]
struct CardResponse {
    card: CardRecord,
}

#[derive(Deserialize)]
struct CardsResponse {
    cards: Vec<CardRecord>,
}

/// One entry of the outdated check.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OutdatedCard {
    pub(crate) card_id: String,
    #[serde(default)]
    #[allow(dead_code)] // The client re-searches the identity whatever the status.
    pub(crate) status: String,
}

#[derive(Deserialize)]
struct OutdatedResponse {
    outdated: Vec<OutdatedCard>,
}

/// One epoch's ticket as the server lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TicketRecord {
    pub(crate) epoch: u32,
    #[serde(with = "b64url_bytes")]
    pub(crate) ticket: Vec<u8>,
    pub(crate) created_at: u64,
}

/// The tickets of a group visible to the caller.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupTickets {
    pub(crate) initiator: String,
    pub(crate) tickets: Vec<TicketRecord>,
}

/// A stored backup blob and its version.
pub(crate) struct StoredBackup {
    pub(crate) version: u64,
    pub(crate) blob: Vec<u8>,
}

#[derive(Deserialize)]
struct BackupResponse {
    version: u64,
    #[serde(with = "b64url_bytes")]
    blob: Vec<u8>,
}

#[derive(Deserialize)]
struct ServerError {
    code: String,
    #[serde(default)]
    message: String,
}

/// When a backup write may happen.
pub(crate) enum Precondition {
    /// Only if no backup exists (`If-None-Match: *`).
    Create,
    /// Only if the stored version is this one (`If-Match`).
    Version(u64),
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The typed API client.
pub(crate) struct ServerApi {
    base_url: String,
    transport: Arc<dyn HttpTransport>,
    tokens: TokenCache,
}

impl ServerApi {
    pub(crate) fn new(
        base_url: String,
        transport: Arc<dyn HttpTransport>,
        tokens: TokenCache,
    ) -> Self {
        Self {
            base_url,
            transport,
            tokens,
        }
    }

    /// Sends an authenticated request; after a 401 fetches a fresh token and retries once.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        extra_headers: &[(&str, String)],
    ) -> Result<HttpResponse, Error> {
        let mut stale: Option<zeroize::Zeroizing<String>> = None;
        for attempt in 0..2 {
            let token = self
                .tokens
                .token(stale.as_deref().map(String::as_str))
                .await?;
            let mut headers = vec![
                (
                    "authorization".to_owned(),
                    format!("Bearer {}", token.as_str()),
                ),
                ("accept".to_owned(), "application/json".to_owned()),
            ];
            if !body.is_empty() {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
            }
            headers.extend(
                extra_headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.clone())),
            );
            let request = HttpRequest {
                method,
                url: format!("{}{path}", self.base_url),
                headers,
                body: body.clone(),
            };
            let response = self
                .transport
                .send(request)
                .await
                .map_err(|error| Error::Network {
                    message: error.message,
                })?;
            if response.status == 401 {
                if attempt == 0 {
                    stale = Some(token);
                    continue;
                }
                let message = server_error(&response)
                    .map(|e| e.message)
                    .unwrap_or_else(|| "401 Unauthorized".into());
                return Err(Error::Unauthorized { message });
            }
            if (200..300).contains(&response.status) {
                return Ok(response);
            }
            return Err(match server_error(&response) {
                Some(error) => Error::Server {
                    status: response.status,
                    code: error.code,
                    message: error.message,
                },
                None => Error::Server {
                    status: response.status,
                    code: "unknown".into(),
                    message: format!("HTTP {} without an error body", response.status),
                },
            });
        }
        Err(Error::Unauthorized {
            message: "401 Unauthorized".into(),
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        extra_headers: &[(&str, String)],
    ) -> Result<T, Error> {
        let body = match body {
            Some(value) => serde_json::to_vec(&value)
                .map_err(|_| Error::invalid_input("the request could not be encoded"))?,
            None => Vec::new(),
        };
        let response = self.send(method, path, body, extra_headers).await?;
        serde_json::from_slice(&response.body).map_err(|error| {
            Error::invalid_response(format!("unexpected JSON from the server: {error}"))
        })
    }

    /// `POST /v1/cards`.
    pub(crate) async fn publish_card(&self, card: &Card) -> Result<CardRecord, Error> {
        let body = serde_json::json!({ "card": card });
        let response: CardResponse = self
            .json(Method::Post, "/v1/cards", Some(body), &[])
            .await?;
        Ok(response.card)
    }

    /// `POST /v1/cards/search` with at most [`MAX_BATCH`] identities.
    pub(crate) async fn search_cards(&self, identities: &[&str]) -> Result<Vec<CardRecord>, Error> {
        let body = serde_json::json!({ "identities": identities });
        let response: CardsResponse = self
            .json(Method::Post, "/v1/cards/search", Some(body), &[])
            .await?;
        Ok(response.cards)
    }

    /// `GET /v1/identities/{identity}/cards`: every card, oldest first.
    pub(crate) async fn card_history(&self, identity: &str) -> Result<Vec<CardRecord>, Error> {
        let path = format!("/v1/identities/{}/cards", path_segment(identity));
        let response: CardsResponse = self.json(Method::Get, &path, None, &[]).await?;
        Ok(response.cards)
    }

    /// `POST /v1/cards/{id}/revoke`.
    pub(crate) async fn revoke_card(&self, id: &CardId) -> Result<(), Error> {
        let path = format!("/v1/cards/{}/revoke", id.to_hex());
        let _: CardResponse = self.json(Method::Post, &path, None, &[]).await?;
        Ok(())
    }

    /// `POST /v1/cards/outdated` with at most [`MAX_BATCH`] ids.
    pub(crate) async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, Error> {
        let ids: Vec<String> = ids.iter().map(CardId::to_hex).collect();
        let body = serde_json::json!({ "card_ids": ids });
        let response: OutdatedResponse = self
            .json(Method::Post, "/v1/cards/outdated", Some(body), &[])
            .await?;
        Ok(response.outdated)
    }

    /// `GET /v1/backups/{name}`; `None` when there is none.
    pub(crate) async fn get_backup(&self, name: &str) -> Result<Option<StoredBackup>, Error> {
        let path = format!("/v1/backups/{}", path_segment(name));
        match self
            .json::<BackupResponse>(Method::Get, &path, None, &[])
            .await
        {
            Ok(response) => Ok(Some(StoredBackup {
                version: response.version,
                blob: response.blob,
            })),
            Err(error) if error.is_server(404, "not_found") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `PUT /v1/backups/{name}` with a precondition.
    pub(crate) async fn put_backup(
        &self,
        name: &str,
        blob: &[u8],
        precondition: Precondition,
    ) -> Result<(), Error> {
        let path = format!("/v1/backups/{}", path_segment(name));
        let header = match precondition {
            Precondition::Create => ("if-none-match", "*".to_owned()),
            Precondition::Version(version) => ("if-match", format!("\"{version}\"")),
        };
        let body = serde_json::json!({ "blob": b64url_encode(blob) });
        let _: serde_json::Value = self.json(Method::Put, &path, Some(body), &[header]).await?;
        Ok(())
    }

    /// `PUT /v1/groups/{group_id}/tickets/{epoch}`.
    pub(crate) async fn put_ticket(
        &self,
        group_id: &str,
        epoch: u32,
        participants: &[&str],
        ticket: &[u8],
    ) -> Result<(), Error> {
        let path = format!("/v1/groups/{}/tickets/{epoch}", path_segment(group_id));
        let body =
            serde_json::json!({ "participants": participants, "ticket": b64url_encode(ticket) });
        let _: serde_json::Value = self.json(Method::Put, &path, Some(body), &[]).await?;
        Ok(())
    }

    /// `GET /v1/groups/{group_id}/tickets?after=`; `None` when the group does not exist or
    /// the caller was never a participant.
    pub(crate) async fn group_tickets(
        &self,
        group_id: &str,
        after: Option<u32>,
    ) -> Result<Option<GroupTickets>, Error> {
        let mut path = format!("/v1/groups/{}/tickets", path_segment(group_id));
        if let Some(after) = after {
            path.push_str(&format!("?after={after}"));
        }
        match self
            .json::<GroupTickets>(Method::Get, &path, None, &[])
            .await
        {
            Ok(tickets) => Ok(Some(tickets)),
            Err(error) if error.is_server(404, "not_found") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `DELETE /v1/groups/{group_id}`; `false` when there was none.
    pub(crate) async fn delete_group(&self, group_id: &str) -> Result<bool, Error> {
        let path = format!("/v1/groups/{}", path_segment(group_id));
        match self.send(Method::Delete, &path, Vec::new(), &[]).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_server(404, "not_found") => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// `DELETE /v1/backups/{name}`; `false` when there was none.
    pub(crate) async fn delete_backup(&self, name: &str) -> Result<bool, Error> {
        let path = format!("/v1/backups/{}", path_segment(name));
        match self.send(Method::Delete, &path, Vec::new(), &[]).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_server(404, "not_found") => Ok(false),
            Err(error) => Err(error),
        }
    }
}

fn server_error(response: &HttpResponse) -> Option<ServerError> {
    serde_json::from_slice(&response.body).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;
    use crate::{platform::PlatformError, token::TokenProvider};
    use tessera_format::{card::Identity, jwt::AppKey};

    struct Tokens(AtomicUsize);

    #[async_trait::async_trait]
    impl TokenProvider for Tokens {
        async fn token(&self) -> Result<String, PlatformError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) as u64;
            Ok(AppKey::from_seed([1; 32]).mint(
                "app",
                "tessera:app",
                &Identity::new("alice").unwrap(),
                tessera_format::time::Timestamp::now().plus(n),
                600,
            ))
        }
    }

    /// Answers every request with the given statuses in turn, recording the tokens used.
    struct Scripted {
        statuses: Mutex<Vec<u16>>,
        seen: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl HttpTransport for Scripted {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, PlatformError> {
            let auth = request
                .headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            self.seen.lock().unwrap().push(auth);
            let status = self.statuses.lock().unwrap().remove(0);
            let body = if status == 200 {
                br#"{"cards":[]}"#.to_vec()
            } else {
                br#"{"code":"unauthorized","message":"token expired"}"#.to_vec()
            };
            Ok(HttpResponse {
                status,
                headers: vec![],
                body,
            })
        }
    }

    fn api(statuses: Vec<u16>) -> (ServerApi, Arc<Scripted>, Arc<Tokens>) {
        let transport = Arc::new(Scripted {
            statuses: Mutex::new(statuses),
            seen: Mutex::new(vec![]),
        });
        let tokens = Arc::new(Tokens(AtomicUsize::new(0)));
        let cache = TokenCache::new(tokens.clone(), Identity::new("alice").unwrap());
        (
            ServerApi::new("http://h".into(), transport.clone(), cache),
            transport,
            tokens,
        )
    }

    #[tokio::test]
    async fn a_401_is_retried_exactly_once_with_a_fresh_token() {
        let (api, transport, tokens) = api(vec![401, 200]);
        api.search_cards(&["bob"]).await.unwrap();
        let seen = transport.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_ne!(seen[0], seen[1]);
        assert_eq!(tokens.0.load(Ordering::SeqCst), 2);

        let (api, transport, _) = api_twice();
        let error = api.search_cards(&["bob"]).await.unwrap_err();
        assert_eq!(error.code(), "unauthorized");
        assert_eq!(transport.seen.lock().unwrap().len(), 2);
    }

    fn api_twice() -> (ServerApi, Arc<Scripted>, Arc<Tokens>) {
        api(vec![401, 401, 200])
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("a/b?c#d%"), "a%2Fb%3Fc%23d%25");
        assert_eq!(path_segment("alice@example.com"), "alice%40example.com");
    }
}
