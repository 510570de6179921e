//! HTTP plumbing: JSON errors, bounded body reads, connection facts, and the middleware that
//! enforces authentication, concurrency and the request timeout.
use crate::state::State;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// How a request reached the server (set per connection by the listener).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    /// Over a Unix socket, or from a loopback TCP address.
    pub(crate) local: bool,
    /// Over TCP (a bearer token is checked when one is configured).
    pub(crate) tcp: bool,
    /// Over TLS.
    pub(crate) tls: bool,
}

/// An error answer: `{"error": {"code": ..., "message": ...}}` (plus `path` for policy errors).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) path: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            path: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut err = serde_json::json!({"code": self.code, "message": self.message});
        if let (Some(path), Some(obj)) = (self.path, err.as_object_mut()) {
            obj.insert("path".into(), path.into());
        }
        json_response(self.status, serde_json::json!({ "error": err }).to_string())
    }
}

/// A response with a JSON body given as text.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Reads the whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// Parses a JSON body into a value.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

fn token_ok(state: &State, req: &Request) -> bool {
    let Some(want) = state.token.as_deref() else {
        return true;
    };
    let got = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant-time comparison: the token is a secret.
    got.len() == want.len()
        && got
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Decrements the in-flight gauge however the request ends (a timeout drops the future).
struct InFlight<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Authentication, the concurrency bound and the request timeout, for every route.
pub(crate) async fn guard(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<Peer>().copied().unwrap_or(Peer {
        local: false,
        tcp: true,
        tls: false,
    });
    let request_id = req.headers().get("x-request-id").cloned();
    let probe = matches!(req.uri().path(), "/healthz" | "/readyz");
    let mut resp = if peer.tcp && !probe && !token_ok(&state, &req) {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer ...)",
        )
        .into_response()
    } else {
        let limit = state.request_timeout;
        let work = async {
            let _permit = state.permits.acquire().await;
            state.metrics.in_flight.fetch_add(1, Relaxed);
            let _count = InFlight(&state.metrics.in_flight);
            next.run(req).await
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request was not handled within {} ms",
                    limit.as_millis()
                ),
            )
            .into_response(),
        }
    };
    if resp.status().is_client_error() || resp.status().is_server_error() {
        state.metrics.http_errors.fetch_add(1, Relaxed);
    }
    if let Some(id) = request_id {
        resp.headers_mut().insert("x-request-id", id);
    }
    resp
}
