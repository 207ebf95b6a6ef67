//! The job API front door: routes `/v20180820/jobs…` requests to operations, runs authentication and the
//! knobs, validates parameters, calls the store, writes the XML answer and records the audit entry.
//!
//! Owns the per-request pipeline and response headers (`x-amz-request-id`, `x-amz-id-2`, `Content-Type`;
//! hyper adds `Date` and `Content-Length`). Requests under `/_sandbox/` go to `admin.rs`. Does not own state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;

use super::audit::AuditEntry;
use super::auth::{SignedRequest, authenticate};
use super::clock::SimTime;
use super::connection::ConnKill;
use super::error::{ErrorCode, WireError};
use super::knobs::Verdict;
use super::lifecycle::{JobStatus, RequestedStatus};
use super::operation::Operation;
use super::state::Shared;
use super::store::{DEFAULT_PAGE_SIZE, NewJob, Scope, created_job_script};
use super::{admin, sts, wire};

/// Largest request body accepted (CreateJob bodies are a few KiB).
const MAX_BODY: usize = 1 << 20;

/// A routed job request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    op: Operation,
    job_id: Option<String>,
}

fn route(method: &Method, path: &str) -> Result<Route, WireError> {
    let rest = path
        .strip_prefix("/v20180820/jobs")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .ok_or_else(|| unknown(method, path))?;
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (op, job_id) = match (segments.as_slice(), method) {
        ([] | [""], &Method::GET) => (Operation::ListJobs, None),
        ([] | [""], &Method::POST) => (Operation::CreateJob, None),
        ([id], &Method::GET) if !id.is_empty() => (Operation::DescribeJob, Some(decode(id))),
        ([id, "status"], &Method::POST) => (Operation::UpdateJobStatus, Some(decode(id))),
        ([id, "priority"], &Method::POST) => (Operation::UpdateJobPriority, Some(decode(id))),
        ([id, "tagging"], &Method::GET) => (Operation::GetJobTagging, Some(decode(id))),
        ([id, "tagging"], &Method::PUT) => (Operation::PutJobTagging, Some(decode(id))),
        ([id, "tagging"], &Method::DELETE) => (Operation::DeleteJobTagging, Some(decode(id))),
        ([] | [""] | [_] | [_, "status" | "priority" | "tagging"], _) => {
            return Err(WireError::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on {path}"),
            ));
        }
        _ => return Err(unknown(method, path)),
    };
    Ok(Route { op, job_id })
}

fn unknown(method: &Method, path: &str) -> WireError {
    WireError::new(
        ErrorCode::UnknownOperation,
        format!("no S3 Control job operation matches {method} {path}"),
    )
}

/// Query parameters, percent-decoded, in order.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode_str(k).decode_utf8_lossy().into_owned(),
                percent_decode_str(v).decode_utf8_lossy().into_owned(),
            )
        })
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The outcome of serving one job request.
enum Reply {
    Ok {
        body: String,
        result_status: Option<JobStatus>,
        job_id: Option<String>,
    },
    Err(WireError),
    /// A scripted error: any code with any status.
    Scripted {
        code: String,
        status: u16,
        message: String,
    },
    /// Served (the change took effect) but answered with a body that cannot be parsed.
    Malformed {
        result_status: Option<JobStatus>,
        job_id: Option<String>,
    },
    Drop,
}

impl From<WireError> for Reply {
    fn from(err: WireError) -> Self {
        Reply::Err(err)
    }
}

/// The axum handler for every request.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnKill>,
    req: Request,
) -> Response {
    let mut response = answer(&shared, &conn, req).await;
    // The `Date` header follows the sandbox clock, like every timestamp in the bodies: a client that
    // computes a job's age as `Date` minus `CreationTime` gets the sandbox's answer, never a negative one
    // after a clock advance.
    if let Ok(date) = HeaderValue::from_str(&http_date(shared.clock.now())) {
        response.headers_mut().insert(header::DATE, date);
    }
    response
}

/// An RFC 9110 HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(t: SimTime) -> String {
    t.to_timestamp()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

async fn answer(shared: &Arc<Shared>, conn: &ConnKill, req: Request) -> Response {
    let request_id = shared.next_request_id();
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            let err = WireError::new(
                ErrorCode::BadRequest,
                format!("the request body is unreadable or larger than {MAX_BODY} bytes"),
            );
            return error_response(&err, &request_id);
        }
    };
    let path = parts.uri.path();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return admin::handle(shared, &parts, &body).await;
    }
    // STS (query protocol): a form-encoded POST to `/` naming its `Action`.
    let sts_form = (parts.method == Method::POST && path == "/")
        .then(|| query_pairs(std::str::from_utf8(&body).ok()))
        .filter(|form| sts::operation(form).is_some());
    let route = match &sts_form {
        Some(form) => Route {
            op: sts::operation(form).unwrap_or(Operation::GetCallerIdentity),
            job_id: None,
        },
        None => match route(&parts.method, path) {
            Ok(route) => route,
            Err(err) => return error_response(&err, &request_id),
        },
    };
    shared.calls.add(route.op);
    let pairs = sts_form.unwrap_or_else(|| query_pairs(parts.uri.query()));
    let account = parts
        .headers
        .get("x-amz-account-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reply = serve(
        shared,
        &parts,
        &body,
        &route,
        &pairs,
        account.as_deref(),
        &request_id,
    )
    .await;
    match &reply {
        Reply::Ok { .. } => tracing::debug!(op = %route.op, %request_id, "200"),
        Reply::Err(err) => {
            tracing::debug!(op = %route.op, %request_id, code = err.code.as_str(), "{}", err.message)
        }
        Reply::Scripted { code, status, .. } => {
            tracing::debug!(op = %route.op, %request_id, %code, status, "scripted error")
        }
        Reply::Malformed { .. } => tracing::debug!(op = %route.op, %request_id, "malformed body"),
        Reply::Drop => tracing::debug!(op = %route.op, %request_id, "connection dropped"),
    }
    if route.op.is_mutating() {
        audit(shared, &route, &pairs, &body, account, &reply, &request_id);
    }
    match reply {
        Reply::Ok { body, .. } => xml_response(body, &request_id),
        Reply::Err(err) => error_response(&err, &request_id),
        Reply::Scripted {
            code,
            status,
            message,
        } => {
            let body = wire::error_envelope(&code, status, &message, &request_id);
            let mut response = xml_response(body, &request_id);
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response
        }
        Reply::Malformed { .. } => {
            // The right root element, cut off: a parser fails on the missing end tags.
            let root = match route.op {
                Operation::CreateJob => "CreateJobResult",
                Operation::UpdateJobStatus => "UpdateJobStatusResult",
                Operation::UpdateJobPriority => "UpdateJobPriorityResult",
                Operation::DescribeJob => "DescribeJobResult",
                Operation::ListJobs => "ListJobsResult",
                Operation::GetJobTagging => "GetJobTaggingResult",
                Operation::PutJobTagging => "PutJobTaggingResult",
                Operation::DeleteJobTagging => "DeleteJobTaggingResult",
                Operation::GetCallerIdentity => "GetCallerIdentityResponse",
                Operation::AssumeRole => "AssumeRoleResponse",
            };
            xml_response(
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{root} xmlns=\"{}\"><JobId>",
                    wire::NAMESPACE
                ),
                &request_id,
            )
        }
        Reply::Drop => {
            conn.kill();
            error_response(
                &WireError::new(ErrorCode::InternalService, "connection dropped"),
                &request_id,
            )
        }
    }
}

async fn serve(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: &[u8],
    route: &Route,
    pairs: &[(String, String)],
    account: Option<&str>,
    request_id: &str,
) -> Reply {
    let signed = SignedRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query(),
        uri_authority: parts.uri.authority().map(|a| a.as_str()),
        headers: &parts.headers,
        body,
    };
    let signed_region = match authenticate(&shared.auth_mode(), &signed) {
        Ok(region) => region,
        Err(err) => return err.into(),
    };
    let (verdict, latency) = shared.knobs().on_call(route.op);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut garble = false;
    match verdict {
        Verdict::Serve => {}
        Verdict::MalformedBody => garble = true,
        Verdict::Error {
            code,
            status,
            message,
        } => {
            return Reply::Scripted {
                code,
                status,
                message,
            };
        }
        Verdict::Throttle => {
            return WireError::new(
                ErrorCode::TooManyRequests,
                "Please reduce your request rate.",
            )
            .into();
        }
        Verdict::InternalError => {
            return WireError::new(
                ErrorCode::InternalService,
                "We encountered an internal error. Please try again.",
            )
            .into();
        }
        Verdict::Drop => return Reply::Drop,
    }
    if matches!(
        route.op,
        Operation::GetCallerIdentity | Operation::AssumeRole
    ) {
        return serve_sts(shared, route.op, pairs, &parts.headers, request_id);
    }
    let Some(account) = account else {
        return WireError::new(
            ErrorCode::BadRequest,
            "the x-amz-account-id header is required",
        )
        .into();
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return WireError::new(
            ErrorCode::BadRequest,
            format!("account id {account:?} must be 12 digits"),
        )
        .into();
    }
    if let Some(id) = &route.job_id
        && let Err(err) = wire::check_job_id(id)
    {
        return err.into();
    }
    let now = shared.clock.now();
    let mut store = shared.store();
    if !store.has_account(account) {
        // What AWS does for an account the caller's credentials do not belong to.
        return WireError::new(
            ErrorCode::AccessDenied,
            format!("Access Denied: account {account} does not exist in this sandbox"),
        )
        .into();
    }
    let id = route.job_id.as_deref().unwrap_or_default();
    // Jobs live per account and region; the region is the one the client signed for.
    let scope = Scope::new(account, &signed_region);
    let result: Result<Reply, WireError> = (|| match route.op {
        Operation::DescribeJob => {
            let (record, snap) = store.job(scope, id, now)?;
            Ok(ok(wire::describe_job(
                record,
                &snap,
                account,
                &signed_region,
            )))
        }
        Operation::ListJobs => {
            let (statuses, max, token) = list_params(pairs)?;
            let page = store.list(scope, &statuses, max, token, now)?;
            Ok(ok(wire::list_jobs(&page.jobs, page.next_token.as_deref())))
        }
        Operation::UpdateJobStatus => {
            let requested = first(pairs, "requestedJobStatus").ok_or_else(|| {
                WireError::new(ErrorCode::BadRequest, "requestedJobStatus is required")
            })?;
            let requested = RequestedStatus::parse(requested).ok_or_else(|| {
                WireError::new(
                    ErrorCode::BadRequest,
                    format!("requestedJobStatus must be Ready or Cancelled, got {requested:?}"),
                )
            })?;
            let reason = first(pairs, "statusUpdateReason");
            if let Some(reason) = reason {
                wire::check_reason(reason)?;
            }
            let status = store.update_status(scope, id, requested, reason, now)?;
            Ok(Reply::Ok {
                body: wire::update_job_status(id, status, reason),
                result_status: Some(status),
                job_id: None,
            })
        }
        Operation::UpdateJobPriority => {
            let priority = first(pairs, "priority")
                .ok_or_else(|| WireError::new(ErrorCode::BadRequest, "priority is required"))?;
            let priority = wire::parse_priority(priority)?;
            let priority = store.update_priority(scope, id, priority, now)?;
            Ok(ok(wire::update_job_priority(id, priority)))
        }
        Operation::GetJobTagging => {
            let (record, _) = store.job(scope, id, now)?;
            Ok(ok(wire::get_job_tagging(&record.tags)))
        }
        Operation::PutJobTagging => {
            let tags = wire::parse_put_job_tagging(body)?;
            store.put_tags(scope, id, tags, now)?;
            Ok(ok(String::new()))
        }
        Operation::DeleteJobTagging => {
            store.delete_tags(scope, id, now)?;
            Ok(ok(String::new()))
        }
        Operation::GetCallerIdentity | Operation::AssumeRole => Err(WireError::new(
            ErrorCode::UnknownOperation,
            "STS calls are not job operations",
        )),
        Operation::CreateJob => {
            let req = wire::parse_create_job(body)?;
            let job = NewJob {
                id: None,
                description: req.description,
                priority: req.priority,
                operation_name: req.operation_name,
                operation_xml: req.operation_xml,
                manifest_xml: req.manifest_xml,
                report_xml: req.report_xml,
                role_arn: req.role_arn,
                tags: req.tags,
                script: created_job_script(req.confirmation_required.unwrap_or(true)),
                events: Default::default(),
                status_update_reason: None,
                suspended_cause: None,
            };
            let id = store.create(scope, &req.client_request_token, req.fingerprint, job, now)?;
            Ok(Reply::Ok {
                body: wire::create_job(&id),
                result_status: None,
                job_id: Some(id),
            })
        }
    })();
    match result {
        Ok(Reply::Ok {
            result_status,
            job_id,
            ..
        }) if garble => Reply::Malformed {
            result_status,
            job_id,
        },
        Ok(reply) => reply,
        Err(err) => Reply::Err(err),
    }
}

fn serve_sts(
    shared: &Shared,
    op: Operation,
    form: &[(String, String)],
    headers: &axum::http::HeaderMap,
    request_id: &str,
) -> Reply {
    let access_key_id = super::auth::access_key_id(headers).unwrap_or_default();
    match op {
        Operation::AssumeRole => {
            let known = |account: &str| shared.store().has_account(account);
            match sts::assume_role(form, known, shared.session_count(), SimTime::wall_now()) {
                Ok((session, expires)) => {
                    let body = sts::assume_role_response(&session, expires, request_id);
                    shared.add_session(session);
                    ok(body)
                }
                Err(err) => Reply::Err(err),
            }
        }
        _ => {
            let (account, session) = shared.caller(&access_key_id);
            ok(sts::get_caller_identity(
                &access_key_id,
                &account,
                session.as_ref(),
                request_id,
            ))
        }
    }
}

fn ok(body: String) -> Reply {
    Reply::Ok {
        body,
        result_status: None,
        job_id: None,
    }
}

fn list_params(
    pairs: &[(String, String)],
) -> Result<(Vec<JobStatus>, usize, Option<&str>), WireError> {
    let mut statuses = Vec::new();
    for (key, value) in pairs {
        if key == "jobStatuses" {
            let status = JobStatus::parse(value).ok_or_else(|| {
                WireError::new(
                    ErrorCode::InvalidRequest,
                    format!("jobStatuses: unknown job status {value:?}"),
                )
            })?;
            statuses.push(status);
        }
    }
    let max = match first(pairs, "maxResults") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) if n <= 1000 => n,
            _ => {
                return Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    format!("maxResults must be an integer from 0 to 1000, got {text:?}"),
                ));
            }
        },
    };
    let token = first(pairs, "nextToken");
    if let Some(token) = token {
        let valid_chars = token.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b':' | b'/' | b'=' | b'?')
                || (b'#'..=b'_').contains(&b)
        });
        if token.is_empty() || token.len() > 1024 || !valid_chars {
            return Err(WireError::new(
                ErrorCode::InvalidNextToken,
                "nextToken must be 1 to 1024 characters of [A-Za-z0-9+:/=?#-_]",
            ));
        }
    }
    Ok((statuses, max, token))
}

fn audit(
    shared: &Shared,
    route: &Route,
    pairs: &[(String, String)],
    body: &[u8],
    account: Option<String>,
    reply: &Reply,
    request_id: &str,
) {
    let mut params: BTreeMap<String, String> = pairs.iter().cloned().collect();
    match route.op {
        Operation::CreateJob | Operation::PutJobTagging => {
            if let Ok(root) = std::str::from_utf8(body)
                .map_err(|e| e.to_string())
                .and_then(super::xml::parse)
            {
                for key in [
                    "ClientRequestToken",
                    "Description",
                    "Priority",
                    "ConfirmationRequired",
                ] {
                    if let Some(v) = root.child_text(key) {
                        params.insert(key.to_owned(), v.to_owned());
                    }
                }
                if let Some(tags) = root.child("Tags") {
                    let joined: Vec<String> = tags
                        .children
                        .iter()
                        .map(|m| {
                            format!(
                                "{}={}",
                                m.child_text("Key").unwrap_or(""),
                                m.child_text("Value").unwrap_or("")
                            )
                        })
                        .collect();
                    params.insert("Tags".to_owned(), joined.join(","));
                }
            }
        }
        _ => {}
    }
    let (outcome, http_status, result_status, created) = match reply {
        Reply::Ok {
            result_status,
            job_id,
            ..
        } => (
            "ok".to_owned(),
            Some(200),
            result_status.map(|s| s.as_str().to_owned()),
            job_id.clone(),
        ),
        Reply::Err(err) => (
            err.code.as_str().to_owned(),
            Some(err.code.http_status()),
            None,
            None,
        ),
        Reply::Scripted { code, status, .. } => (code.clone(), Some(*status), None, None),
        Reply::Malformed {
            result_status,
            job_id,
        } => (
            "malformed".to_owned(),
            Some(200),
            result_status.map(|s| s.as_str().to_owned()),
            job_id.clone(),
        ),
        Reply::Drop => ("dropped".to_owned(), None, None, None),
    };
    shared.audit.record(AuditEntry {
        seq: 0,
        time: SimTime::wall_now().to_rfc3339(),
        sandbox_time: shared.clock.now().to_rfc3339(),
        operation: route.op,
        account,
        job_id: created.or_else(|| route.job_id.clone()),
        params,
        outcome,
        http_status,
        result_status,
        request_id: request_id.to_owned(),
    });
}

fn with_headers(mut response: Response, request_id: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", v.clone());
        let id2 = format!("{request_id}/s3plan-sandbox=");
        if let Ok(v2) = HeaderValue::from_str(&id2) {
            headers.insert("x-amz-id-2", v2);
        }
    }
    response
}

fn xml_response(body: String, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    with_headers(response, request_id)
}

/// An `ErrorResponse` with the code's HTTP status.
pub(crate) fn error_response(err: &WireError, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(wire::error(err, request_id)));
    *response.status_mut() =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    with_headers(response, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_operation_and_rejects_the_rest() {
        let cases = [
            (Method::GET, "/v20180820/jobs", Ok(Operation::ListJobs)),
            (Method::POST, "/v20180820/jobs", Ok(Operation::CreateJob)),
            (
                Method::GET,
                "/v20180820/jobs/job-1",
                Ok(Operation::DescribeJob),
            ),
            (
                Method::POST,
                "/v20180820/jobs/job-1/status",
                Ok(Operation::UpdateJobStatus),
            ),
            (
                Method::POST,
                "/v20180820/jobs/job-1/priority",
                Ok(Operation::UpdateJobPriority),
            ),
            (
                Method::GET,
                "/v20180820/jobs/job-1/tagging",
                Ok(Operation::GetJobTagging),
            ),
            (
                Method::PUT,
                "/v20180820/jobs/job-1/tagging",
                Ok(Operation::PutJobTagging),
            ),
            (
                Method::DELETE,
                "/v20180820/jobs/job-1/tagging",
                Ok(Operation::DeleteJobTagging),
            ),
            (
                Method::DELETE,
                "/v20180820/jobs/job-1",
                Err(ErrorCode::MethodNotAllowed),
            ),
            (
                Method::GET,
                "/v20180820/jobs/job-1/other",
                Err(ErrorCode::UnknownOperation),
            ),
            (Method::GET, "/", Err(ErrorCode::UnknownOperation)),
            (
                Method::GET,
                "/v20180820/jobsx",
                Err(ErrorCode::UnknownOperation),
            ),
        ];
        for (method, path, expected) in cases {
            let got = route(&method, path).map(|r| r.op).map_err(|e| e.code);
            assert_eq!(got, expected, "{method} {path}");
        }
    }

    #[test]
    fn list_params_validate_like_the_model() {
        let p = |q: &str| query_pairs(Some(q));
        let (s, max, _) =
            list_params(&p("jobStatuses=Active&jobStatuses=Suspended&maxResults=5")).unwrap();
        assert_eq!(s, [JobStatus::Active, JobStatus::Suspended]);
        assert_eq!(max, 5);
        assert_eq!(
            list_params(&p("maxResults=0")).unwrap().1,
            DEFAULT_PAGE_SIZE
        );
        for (q, code) in [
            ("maxResults=1001", ErrorCode::InvalidRequest),
            ("maxResults=-1", ErrorCode::InvalidRequest),
            ("jobStatuses=active", ErrorCode::InvalidRequest),
            ("nextToken=", ErrorCode::InvalidNextToken),
            ("nextToken=a%20b", ErrorCode::InvalidNextToken),
        ] {
            assert_eq!(list_params(&p(q)).unwrap_err().code, code, "{q}");
        }
    }
}
