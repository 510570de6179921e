//! The native API (`/v1/*`), probes, metrics and the test-only clock control.
use crate::authzen;
use crate::http::{guard, json_response, parse_json, read_body, ApiError, Peer};
use crate::state::{make_engine, State};
use axum::body::Body;
use axum::extract::{Extension, Request, State as S};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use portcullis::{EngineError, PolicyInfo};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

type Shared = S<Arc<State>>;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/decide", post(decide))
        .route("/v1/approve", post(approve))
        .route("/v1/policy", get(get_policy).put(put_policy))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/access/v1/evaluation", post(authzen::evaluation))
        .route("/access/v1/evaluations", post(authzen::evaluations))
        .route(
            "/.well-known/authzen-configuration",
            get(authzen::configuration),
        )
        .route("/test/v1/reset", post(test_reset))
        .route("/test/v1/clock", post(test_clock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no endpoint {} (see docs/serve.md)", req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not accepted on {}", req.method(), req.uri().path()),
    )
}

pub(crate) fn policy_json(info: &PolicyInfo) -> Value {
    json!({"name": &*info.name, "version": info.version.as_deref()})
}

async fn decide(S(state): Shared, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.max_body).await?;
    let start = Instant::now();
    let engine = state.engine();
    let d = state
        .may_block(move || engine.evaluate_json(&bytes))
        .await?;
    state.metrics.decision(&d, start.elapsed());
    Ok(json_response(StatusCode::OK, d.to_json()))
}

fn engine_error(e: EngineError) -> ApiError {
    let code = match e {
        EngineError::InvalidAction(_) => "invalid_action",
        EngineError::Audit(_) => "audit_error",
        EngineError::Unavailable(_) => "unavailable",
        _ => "invalid_argument",
    };
    let status = match code {
        "audit_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, code, e.to_string())
}

async fn approve(S(state): Shared, body: Body) -> Result<Response, ApiError> {
    let req = parse_json(&read_body(body, state.max_body).await?)?;
    let ttl = req
        .get("ttl_ms")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("ttl_ms must be a positive integer"))?;
    let uses = match req.get("uses") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .and_then(|u| u32::try_from(u).ok())
            .ok_or_else(|| ApiError::bad_request("uses must be a positive integer"))?,
    };
    let engine = state.engine();
    let hash = match (req.get("action"), req.get("action_hash")) {
        (Some(action), None) => {
            let action = action.clone();
            state
                .may_block(move || engine.approve_action_value(&action, ttl, uses))
                .await?
                .map_err(engine_error)?
        }
        (None, Some(Value::String(hash))) => {
            let granted = hash.clone();
            state
                .may_block(move || engine.approve_hash(&granted, ttl, uses))
                .await?
                .map_err(engine_error)?;
            hash.clone()
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of action (an action object) and action_hash (a string)",
            ))
        }
    };
    Ok(json_response(
        StatusCode::OK,
        json!({"action_hash": hash, "ttl_ms": ttl, "uses": uses}).to_string(),
    ))
}

async fn get_policy(S(state): Shared) -> Response {
    let info = state.engine().policy_info();
    json_response(
        StatusCode::OK,
        json!({"policy": policy_json(&info), "file": state.policy_path.display().to_string()})
            .to_string(),
    )
}

async fn put_policy(S(state): Shared, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.max_body).await?;
    let engine = state.engine();
    match engine.update_policy(&bytes) {
        Ok(()) => {
            state
                .metrics
                .reloads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let info = engine.policy_info();
            tracing::info!(policy = %info.name, version = info.version.as_deref().unwrap_or(""), "policy replaced through PUT /v1/policy");
            Ok(json_response(
                StatusCode::OK,
                json!({"policy": policy_json(&info)}).to_string(),
            ))
        }
        Err(e) => Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "policy_invalid",
            message: e.message().to_owned(),
            path: Some(e.path().to_owned()),
        }),
    }
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({"status": "ok"}).to_string())
}

async fn readyz(S(state): Shared) -> Response {
    let info = state.engine().policy_info();
    match state.reload_failing() {
        None => json_response(
            StatusCode::OK,
            json!({"ready": true, "policy": policy_json(&info)}).to_string(),
        ),
        Some(f) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "ready": false,
                "reason": "the policy file fails to load; the previous policy stays in force",
                "file": f.path,
                "error": {"path": f.error.path(), "message": f.error.message()},
                "policy": policy_json(&info),
            })
            .to_string(),
        ),
    }
}

async fn metrics(S(state): Shared) -> Response {
    let engine = state.engine();
    let text = state.metrics.render(
        &engine.policy_info(),
        engine.audit_stats(),
        state.reload_failing().is_some(),
    );
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

fn test_allowed(state: &State, peer: Option<Extension<Peer>>) -> Result<(), ApiError> {
    if !state.test_control {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the test control endpoints are off (they need --test-control)",
        ));
    }
    match peer {
        Some(Extension(p)) if p.local => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the test control endpoints answer only over a Unix socket or loopback",
        )),
    }
}

/// Replaces the engine with a fresh one (new counters and grants) on a given policy and clock.
async fn test_reset(
    S(state): Shared,
    peer: Option<Extension<Peer>>,
    body: Body,
) -> Result<Response, ApiError> {
    test_allowed(&state, peer)?;
    let req = parse_json(&read_body(body, state.max_body).await?)?;
    let policy = req
        .get("policy")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("policy must be the policy document as a string"))?;
    let clock = req
        .get("clock_ms")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("clock_ms must be an integer"))?;
    match portcullis::Engine::new(
        policy.as_bytes(),
        portcullis::EngineOptions {
            clock: portcullis::ClockMode::Manual { start_ms: clock },
            state: state.shared.clone(),
            ..portcullis::EngineOptions::default()
        },
    ) {
        Ok(engine) => {
            state.engine.store(Arc::new(engine));
            Ok(json_response(
                StatusCode::OK,
                json!({"reset": true}).to_string(),
            ))
        }
        Err(e) => Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "policy_invalid",
            message: e.message().to_owned(),
            path: Some(e.path().to_owned()),
        }),
    }
}

async fn test_clock(
    S(state): Shared,
    peer: Option<Extension<Peer>>,
    body: Body,
) -> Result<Response, ApiError> {
    test_allowed(&state, peer)?;
    let req = parse_json(&read_body(body, state.max_body).await?)?;
    let engine = state.engine();
    let target = match (
        req.get("set_ms").and_then(Value::as_i64),
        req.get("advance_ms").and_then(Value::as_i64),
    ) {
        (Some(t), None) => t,
        (None, Some(d)) => engine.now_ms().saturating_add(d),
        _ => {
            return Err(ApiError::bad_request(
                "give set_ms or advance_ms (an integer)",
            ))
        }
    };
    engine.set_time(target).map_err(engine_error)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"now_ms": engine.now_ms()}).to_string(),
    ))
}

/// Creates the initial engine.
pub(crate) fn initial_engine(
    policy: &[u8],
    audit: Option<&std::path::PathBuf>,
    test_control: bool,
    shared: Option<std::sync::Arc<dyn portcullis::StateBackend>>,
) -> Result<portcullis::Engine, String> {
    make_engine(
        policy,
        audit,
        test_control.then(crate::state::now_ms),
        shared,
    )
}
