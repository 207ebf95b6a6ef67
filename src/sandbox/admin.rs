//! The admin API under `/_sandbox/` (JSON, no authentication; the sandbox binds loopback by default):
//! read and advance the clock, read and set knobs, script faults, add jobs, read the audit log and the
//! per-operation call counts, inspect a job's timeline.
//!
//! | Method + path | Body / query | Answer |
//! |---|---|---|
//! | `GET /_sandbox/health` | | `{"status":"ok"}` |
//! | `GET /_sandbox/clock` | | `{"now": RFC 3339, "speed": f64}` |
//! | `POST /_sandbox/clock/advance` | `{"seconds": f64}` | the clock |
//! | `PUT /_sandbox/clock/speed` | `{"speed": f64}` | the clock |
//! | `GET /_sandbox/knobs` / `PUT /_sandbox/knobs` | `Knobs` JSON | the knobs |
//! | `POST /_sandbox/faults` / `DELETE /_sandbox/faults` | `ScriptedFault` JSON | `{"ok":true}` |
//! | `POST /_sandbox/seed` | seed document (YAML or JSON) | `{"added": n}` |
//! | `GET /_sandbox/audit?operation=Op&job_id=ID` | | `[AuditEntry]` |
//! | `GET /_sandbox/calls` | | `{"DescribeJob": n, …}` |
//! | `GET /_sandbox/jobs/{account}/{id}?region=R` | | status, dates and timeline of one job (default region) |
//!
//! Owns only translation between HTTP/JSON and [`Shared`]; the same operations are methods on
//! `SandboxHandle` for in-process use.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::knobs::{Knobs, ScriptedFault};
use super::operation::Operation;
use super::seed::Seed;
use super::state::Shared;
use super::store::Scope;

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn bad(message: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "error": message.to_string() }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Speed {
    speed: f64,
}

fn clock_json(shared: &Shared) -> serde_json::Value {
    json!({ "now": shared.clock.now().to_rfc3339(), "speed": shared.clock.speed() })
}

/// Serves one admin request.
pub(crate) async fn handle(shared: &Shared, parts: &Parts, body: &[u8]) -> Response {
    let path = parts.uri.path().trim_end_matches('/');
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect();
    let q = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let segments: Vec<&str> = path.split('/').skip(2).collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["health"]) => json_response(StatusCode::OK, &json!({ "status": "ok" })),
        (&Method::GET, ["clock"]) => json_response(StatusCode::OK, &clock_json(shared)),
        (&Method::POST, ["clock", "advance"]) => match serde_json::from_slice::<Advance>(body) {
            Ok(a) if a.seconds.is_finite() && a.seconds >= 0.0 => {
                shared.clock.advance_ms((a.seconds * 1000.0) as i64);
                json_response(StatusCode::OK, &clock_json(shared))
            }
            Ok(_) => bad("seconds must be a non-negative number"),
            Err(e) => bad(e),
        },
        (&Method::PUT, ["clock", "speed"]) => match serde_json::from_slice::<Speed>(body) {
            Ok(s) if s.speed.is_finite() && s.speed >= 0.0 => {
                shared.clock.set_speed(s.speed);
                json_response(StatusCode::OK, &clock_json(shared))
            }
            Ok(_) => bad("speed must be a non-negative number"),
            Err(e) => bad(e),
        },
        (&Method::GET, ["knobs"]) => json_response(StatusCode::OK, &json!(shared.knobs().knobs())),
        (&Method::PUT, ["knobs"]) => match serde_json::from_slice::<Knobs>(body) {
            Ok(knobs) => match knobs.validate() {
                Ok(()) => {
                    shared.knobs().set(knobs.clone());
                    json_response(StatusCode::OK, &json!(knobs))
                }
                Err(e) => bad(e),
            },
            Err(e) => bad(e),
        },
        (&Method::POST, ["faults"]) => match serde_json::from_slice::<ScriptedFault>(body) {
            Ok(fault) => match fault.validate() {
                Ok(()) => {
                    shared.knobs().script(fault);
                    json_response(StatusCode::OK, &json!({ "ok": true }))
                }
                Err(e) => bad(e),
            },
            Err(e) => bad(e),
        },
        (&Method::DELETE, ["faults"]) => {
            shared.knobs().clear_scripted();
            json_response(StatusCode::OK, &json!({ "ok": true }))
        }
        (&Method::POST, ["seed"]) => {
            let text = String::from_utf8_lossy(body);
            match Seed::from_yaml(&text, None) {
                Ok(seed) => match shared.add_seed(&seed) {
                    Ok(added) => json_response(StatusCode::OK, &json!({ "added": added })),
                    Err(e) => bad(e),
                },
                Err(e) => bad(e),
            }
        }
        (&Method::GET, ["audit"]) => {
            let op = match q("operation").map(|o| Operation::parse(o).ok_or(o)) {
                Some(Err(o)) => return bad(format!("unknown operation {o:?}")),
                Some(Ok(op)) => Some(op),
                None => None,
            };
            json_response(StatusCode::OK, &json!(shared.audit.filter(op, q("job_id"))))
        }
        (&Method::GET, ["calls"]) => json_response(StatusCode::OK, &json!(shared.calls.all())),
        (&Method::GET, ["jobs", account, id]) => {
            let now = shared.clock.now();
            let store = shared.store();
            let region = q("region").map_or_else(|| store.region().to_owned(), str::to_owned);
            match store.job(Scope::new(account, &region), id, now) {
                Ok((record, snap)) => {
                    let timeline: Vec<serde_json::Value> = record
                        .timeline
                        .segments()
                        .iter()
                        .map(|s| json!({ "status": s.status, "start": s.start.to_rfc3339() }))
                        .collect();
                    json_response(
                        StatusCode::OK,
                        &json!({
                            "job_id": record.id,
                            "status": snap.status,
                            "now": now.to_rfc3339(),
                            "timeline": timeline,
                            "tags": record.tags,
                            "priority": record.priority,
                        }),
                    )
                }
                Err(e) => json_response(StatusCode::NOT_FOUND, &json!({ "error": e.message })),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({ "error": format!("no admin route {} {}", parts.method, parts.uri.path()) }),
        ),
    }
}
