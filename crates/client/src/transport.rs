//! HTTP behind a small trait, so the FFI and npm adapters can bring the platform's own
//! HTTP stack, and a default implementation on reqwest ([`ReqwestTransport`], cargo
//! feature `http-reqwest`, on by default): hyper + rustls (ring, Mozilla roots) natively,
//! the browser's `fetch` on wasm. docs/CLIENT.md "Transport" says why.

use std::fmt;

use super::platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One HTTP request. `Debug` hides the `Authorization` header and the body.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// Request body (empty for none).
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("headers", &headers)
            .field("body_length", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One HTTP response.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_length", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Sends HTTP requests. Any status code is a successful `send`; `Err` means no response
/// was received (no connection, timeout, TLS failure). The error message must not contain
/// the request's headers or body.
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
pub trait HttpTransport: SendOutsideWasm + SyncOutsideWasm {
    /// Sends one request and returns the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, PlatformError>;
}

#[cfg(feature = "http-reqwest")]
pub use reqwest_transport::ReqwestTransport;

#[cfg(feature = "http-reqwest")]
mod reqwest_transport {
    use super::*;

    /// Requests time out after this long (native targets; browsers apply their own).
    #[cfg(not(target_family = "wasm"))]
    const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    /// The default [`HttpTransport`]: reqwest. Natively it needs to be driven inside a
    /// tokio runtime (hyper's connection pool uses it); on wasm it uses `fetch`.
    #[derive(Clone, Debug)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        /// A transport with a 30-second request timeout (natively).
        pub fn new() -> Result<Self, PlatformError> {
            let builder = reqwest::Client::builder();
            #[cfg(not(target_family = "wasm"))]
            let builder = builder
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(std::time::Duration::from_secs(10));
            let client = builder.build().map_err(|error| {
                PlatformError::new(format!(
                    "cannot start the HTTP client: {}",
                    error.without_url()
                ))
            })?;
            Ok(Self { client })
        }

        /// A transport over a configured reqwest client (proxies, extra root certificates…).
        pub fn with_client(client: reqwest::Client) -> Self {
            Self { client }
        }
    }

    #[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
    #[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
    impl HttpTransport for ReqwestTransport {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, PlatformError> {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Delete => reqwest::Method::DELETE,
            };
            let mut builder = self.client.request(method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            if !request.body.is_empty() {
                builder = builder.body(request.body);
            }
            // Errors drop the URL: it names identities, which are user data.
            let describe =
                |error: reqwest::Error| PlatformError::new(error.without_url().to_string());
            let response = builder.send().await.map_err(describe)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    value
                        .to_str()
                        .ok()
                        .map(|v| (name.as_str().to_owned(), v.to_owned()))
                })
                .collect();
            let body = response.bytes().await.map_err(describe)?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_authorization_and_body() {
        let request = HttpRequest {
            method: Method::Post,
            url: "https://example.org/v1/cards".into(),
            headers: vec![("authorization".into(), "Bearer eyJsecret".into())],
            body: b"{\"blob\":\"c2VjcmV0\"}".to_vec(),
        };
        let text = format!("{request:?}");
        assert!(
            !text.contains("eyJsecret") && !text.contains("c2VjcmV0"),
            "{text}"
        );
    }
}
