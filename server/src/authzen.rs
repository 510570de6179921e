//! The OpenID AuthZEN Authorization API 1.0: access evaluation(s) and the discovery document.
//!
//! Mapping: `subject.id` is the agent, `action.name` the tool (`action.properties.kind` the
//! kind), `resource.properties` the params and `resource.id` the target of a `message`,
//! `context` the context. The answer's `decision` is the decision's `allowed`; its `context`
//! is the full portcullis decision (effect, code, rule, reason...).
use crate::http::{json_response, parse_json, read_body, ApiError, Peer};
use crate::state::State;
use axum::body::Body;
use axum::extract::{Extension, State as S};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

fn entity<'a>(req: &'a Value, key: &str, id_key: &str) -> Result<&'a Map<String, Value>, String> {
    let obj = req
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{key} must be an object"))?;
    match obj.get(id_key) {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(format!("{key}.{id_key} must be a non-empty string")),
    }
    if key != "action" && !matches!(obj.get("type"), Some(Value::String(_))) {
        return Err(format!("{key}.type must be a string"));
    }
    Ok(obj)
}

/// The portcullis action an AuthZEN request describes.
pub(crate) fn to_action(req: &Value) -> Result<Value, String> {
    let subject = entity(req, "subject", "id")?;
    let action = entity(req, "action", "name")?;
    let resource = entity(req, "resource", "id")?;
    let kind = action
        .get("properties")
        .and_then(|p| p.get("kind"))
        .cloned()
        .unwrap_or(Value::Null);
    let target = if kind.as_str() == Some("message") {
        resource.get("id").cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    Ok(json!({
        "kind": kind,
        "tool": action.get("name"),
        "agent": {"id": subject.get("id")},
        "target": target,
        "params": resource.get("properties").cloned().unwrap_or_else(|| json!({})),
        "context": req.get("context").cloned().unwrap_or_else(|| json!({})),
    }))
}

/// Decides one AuthZEN request: `{"decision": bool, "context": <decision>}`.
/// A request that does not describe an action is `Ok(Err(message))`; an engine call that
/// failed is `Err`.
async fn evaluate(state: &State, req: &Value) -> Result<Result<Value, String>, ApiError> {
    let action = match to_action(req) {
        Ok(a) => a,
        Err(message) => return Ok(Err(message)),
    };
    let start = Instant::now();
    let engine = state.engine();
    let d = state
        .may_block(move || engine.evaluate_value(&action))
        .await?;
    state.metrics.decision(&d, start.elapsed());
    Ok(Ok(
        json!({"decision": d.allowed(), "context": d.to_value()}),
    ))
}

pub(crate) async fn evaluation(S(state): S<Arc<State>>, body: Body) -> Result<Response, ApiError> {
    let req = parse_json(&read_body(body, state.max_body).await?)?;
    let answer = evaluate(&state, &req)
        .await?
        .map_err(ApiError::bad_request)?;
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

/// `/access/v1/evaluations`: top-level subject/action/resource/context are defaults each
/// item may override; `options.evaluations_semantic` picks execute_all (default),
/// deny_on_first_deny or permit_on_first_permit.
pub(crate) async fn evaluations(S(state): S<Arc<State>>, body: Body) -> Result<Response, ApiError> {
    let req = parse_json(&read_body(body, state.max_body).await?)?;
    let top = req
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request must be a JSON object"))?;
    let items = match top.get("evaluations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::bad_request("evaluations must be an array")),
    };
    if items.is_empty() {
        let answer = evaluate(&state, &req)
            .await?
            .map_err(ApiError::bad_request)?;
        return Ok(json_response(StatusCode::OK, answer.to_string()));
    }
    let semantic = req
        .pointer("/options/evaluations_semantic")
        .map_or(Some("execute_all"), Value::as_str);
    let stop_on: Option<bool> = match semantic {
        Some("execute_all") => None,
        Some("deny_on_first_deny") => Some(false),
        Some("permit_on_first_permit") => Some(true),
        _ => {
            return Err(ApiError::bad_request(
                "options.evaluations_semantic must be execute_all, deny_on_first_deny or permit_on_first_permit",
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let Some(item) = item.as_object() else {
            return Err(ApiError::bad_request("each evaluation must be an object"));
        };
        let mut merged = Map::new();
        for key in ["subject", "action", "resource", "context"] {
            if let Some(v) = item.get(key).or_else(|| top.get(key)) {
                merged.insert(key.to_owned(), v.clone());
            }
        }
        let answer = evaluate(&state, &Value::Object(merged)).await?.unwrap_or_else(|message| {
            json!({"decision": false, "context": {"error": {"status": 400, "message": message}}})
        });
        let decided = answer.get("decision").and_then(Value::as_bool);
        out.push(answer);
        if stop_on.is_some() && decided == stop_on {
            break;
        }
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "evaluations": out }).to_string(),
    ))
}

/// `GET /.well-known/authzen-configuration`: the PDP metadata, with URLs on the host the
/// request named.
pub(crate) async fn configuration(peer: Option<Extension<Peer>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = match peer {
        Some(Extension(p)) if p.tls => "https",
        _ => "http",
    };
    let base = format!("{scheme}://{host}");
    json_response(
        StatusCode::OK,
        json!({
            "policy_decision_point": base,
            "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        })
        .to_string(),
    )
}
