//! The restXml wire format: response documents (exact root elements, namespace, `<member>` lists, RFC 3339
//! timestamps), the `ErrorResponse` envelope, and the request bodies of CreateJob and PutJobTagging.
//!
//! Owns the sandbox's own reading of the restXml protocol; shares nothing with the client side on purpose, so
//! a misreading cannot hide in shared code. Does not
//! decide anything about state (see `store.rs`) or routing (see `router.rs`).

use std::fmt::Write as _;

use sha2::Digest as _;

use super::error::{ErrorCode, WireError};
use super::lifecycle::{JobStatus, Snapshot};
use super::store::{JobRecord, MAX_TAGS, Tag};
use super::xml::{self, Element, escape};

/// The S3 Control XML namespace.
pub(crate) const NAMESPACE: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

fn open(root: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(DECL);
    let _ = write!(out, r#"<{root} xmlns="{NAMESPACE}">"#);
    out
}

fn leaf(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(text));
}

fn progress(out: &mut String, record: &JobRecord, snap: &Snapshot) {
    let _ = write!(
        out,
        "<ProgressSummary><TotalNumberOfTasks>{}</TotalNumberOfTasks><NumberOfTasksSucceeded>{}</NumberOfTasksSucceeded><NumberOfTasksFailed>{}</NumberOfTasksFailed><Timers><ElapsedTimeInActiveSeconds>{}</ElapsedTimeInActiveSeconds></Timers></ProgressSummary>",
        record.script.total_tasks.max(0),
        snap.succeeded,
        snap.failed,
        snap.active_ms / 1000
    );
}

/// `DescribeJobResult`.
pub(crate) fn describe_job(
    record: &JobRecord,
    snap: &Snapshot,
    account: &str,
    region: &str,
) -> String {
    let mut out = open("DescribeJobResult");
    out.push_str("<Job>");
    leaf(&mut out, "JobId", &record.id);
    let _ = write!(
        out,
        "<ConfirmationRequired>{}</ConfirmationRequired>",
        record.script.confirmation_required
    );
    if let Some(d) = &record.description {
        leaf(&mut out, "Description", d);
    }
    leaf(
        &mut out,
        "JobArn",
        &format!("arn:aws:s3:{region}:{account}:job/{}", record.id),
    );
    leaf(&mut out, "Status", snap.status.as_str());
    if let Some(m) = &record.manifest_xml {
        out.push_str(m);
    }
    out.push_str(&record.operation_xml);
    let _ = write!(out, "<Priority>{}</Priority>", record.priority);
    progress(&mut out, record, snap);
    if let Some(r) = &record.status_update_reason {
        leaf(&mut out, "StatusUpdateReason", r);
    }
    // The service always sends the list, empty unless the job failed.
    out.push_str("<FailureReasons>");
    if matches!(snap.status, JobStatus::Failed | JobStatus::Failing)
        && let Some(f) = record.script.effective_failure()
    {
        out.push_str("<member>");
        leaf(&mut out, "FailureCode", &f.code);
        leaf(&mut out, "FailureReason", &f.reason);
        out.push_str("</member>");
    }
    out.push_str("</FailureReasons>");
    out.push_str(&record.report_xml);
    leaf(
        &mut out,
        "CreationTime",
        &record.script.created.to_rfc3339(),
    );
    if let Some(t) = snap.termination_date {
        leaf(&mut out, "TerminationDate", &t.to_rfc3339());
    }
    leaf(&mut out, "RoleArn", &record.role_arn);
    if let Some(t) = snap.suspended_date {
        leaf(&mut out, "SuspendedDate", &t.to_rfc3339());
        leaf(
            &mut out,
            "SuspendedCause",
            record
                .suspended_cause
                .as_deref()
                .unwrap_or("AwaitingConfirmation"),
        );
    }
    if snap.prepared
        && let Some(generated) = generated_manifest(record, account)
    {
        out.push_str(&generated);
    }
    out.push_str("</Job></DescribeJobResult>");
    out
}

/// The `GeneratedManifestDescriptor` of a job created with a `ManifestGenerator` (the manifest the
/// service wrote while the job was `Preparing`): in the generator's output location when it has one,
/// else next to the source bucket's objects under `job-{id}/`.
fn generated_manifest(record: &JobRecord, account: &str) -> Option<String> {
    let text = record.manifest_xml.as_deref()?;
    if !text.starts_with("<ManifestGenerator") {
        return None;
    }
    let generator = xml::parse(text).ok()?;
    let s3 = generator.child("S3JobManifestGenerator")?;
    let output = s3.child("ManifestOutputLocation");
    let bucket_arn = output
        .and_then(|o| o.child_text("Bucket"))
        .or_else(|| s3.child_text("SourceBucket"))
        .unwrap_or("arn:aws:s3:::batch-manifests");
    let bucket = bucket_arn.rsplit(':').next().unwrap_or(bucket_arn);
    let prefix = output
        .and_then(|o| o.child_text("ManifestPrefix"))
        .map(|p| format!("{}/", p.trim_end_matches('/')))
        .unwrap_or_default();
    let mut etag = sha2::Sha256::new();
    etag.update(account.as_bytes());
    etag.update(record.id.as_bytes());
    let etag: String = etag.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = String::from(
        "<GeneratedManifestDescriptor><Format>S3InventoryReport_CSV_20211130</Format><Location>",
    );
    leaf(
        &mut out,
        "ObjectArn",
        &format!(
            "arn:aws:s3:::{bucket}/{prefix}job-{}/manifest.json",
            record.id
        ),
    );
    leaf(&mut out, "ETag", &etag);
    out.push_str("</Location></GeneratedManifestDescriptor>");
    Some(out)
}

/// `ListJobsResult`.
pub(crate) fn list_jobs(jobs: &[(&JobRecord, Snapshot)], next_token: Option<&str>) -> String {
    let mut out = open("ListJobsResult");
    if let Some(t) = next_token {
        leaf(&mut out, "NextToken", t);
    }
    out.push_str("<Jobs>");
    for (record, snap) in jobs {
        out.push_str("<member>");
        leaf(&mut out, "JobId", &record.id);
        if let Some(d) = &record.description {
            leaf(&mut out, "Description", d);
        }
        leaf(&mut out, "Operation", &record.operation_name);
        let _ = write!(out, "<Priority>{}</Priority>", record.priority);
        leaf(&mut out, "Status", snap.status.as_str());
        leaf(
            &mut out,
            "CreationTime",
            &record.script.created.to_rfc3339(),
        );
        if let Some(t) = snap.termination_date {
            leaf(&mut out, "TerminationDate", &t.to_rfc3339());
        }
        progress(&mut out, record, snap);
        out.push_str("</member>");
    }
    out.push_str("</Jobs></ListJobsResult>");
    out
}

/// `UpdateJobStatusResult`.
pub(crate) fn update_job_status(id: &str, status: JobStatus, reason: Option<&str>) -> String {
    let mut out = open("UpdateJobStatusResult");
    leaf(&mut out, "JobId", id);
    leaf(&mut out, "Status", status.as_str());
    if let Some(r) = reason {
        leaf(&mut out, "StatusUpdateReason", r);
    }
    out.push_str("</UpdateJobStatusResult>");
    out
}

/// `UpdateJobPriorityResult`.
pub(crate) fn update_job_priority(id: &str, priority: i32) -> String {
    let mut out = open("UpdateJobPriorityResult");
    leaf(&mut out, "JobId", id);
    let _ = write!(out, "<Priority>{priority}</Priority>");
    out.push_str("</UpdateJobPriorityResult>");
    out
}

/// `CreateJobResult`.
pub(crate) fn create_job(id: &str) -> String {
    let mut out = open("CreateJobResult");
    leaf(&mut out, "JobId", id);
    out.push_str("</CreateJobResult>");
    out
}

/// `GetJobTaggingResult`.
pub(crate) fn get_job_tagging(tags: &[Tag]) -> String {
    let mut out = open("GetJobTaggingResult");
    out.push_str("<Tags>");
    for tag in tags {
        out.push_str("<member>");
        leaf(&mut out, "Key", &tag.key);
        leaf(&mut out, "Value", &tag.value);
        out.push_str("</member>");
    }
    out.push_str("</Tags></GetJobTaggingResult>");
    out
}

/// The `ErrorResponse` envelope (always the wrapped form, as the service sends it).
pub(crate) fn error(err: &WireError, request_id: &str) -> String {
    error_envelope(
        err.code.as_str(),
        err.code.http_status(),
        &err.message,
        request_id,
    )
}

/// The `ErrorResponse` envelope for any code: `Receiver` faults for 5xx, `Sender` otherwise.
pub(crate) fn error_envelope(
    code: &str,
    http_status: u16,
    message: &str,
    request_id: &str,
) -> String {
    let mut out = open("ErrorResponse");
    out.push_str("<Error><Type>");
    out.push_str(if http_status >= 500 {
        "Receiver"
    } else {
        "Sender"
    });
    out.push_str("</Type>");
    leaf(&mut out, "Code", code);
    let message: String = message.chars().take(1024).collect();
    leaf(&mut out, "Message", &message);
    out.push_str("</Error>");
    leaf(&mut out, "RequestId", request_id);
    out.push_str("<HostId>s3plan-sandbox</HostId></ErrorResponse>");
    out
}

/// A parsed CreateJob request.
#[derive(Debug, Clone)]
pub(crate) struct CreateJobRequest {
    /// `ClientRequestToken`.
    pub(crate) client_request_token: String,
    /// `ConfirmationRequired`, when sent.
    pub(crate) confirmation_required: Option<bool>,
    /// `Description`.
    pub(crate) description: Option<String>,
    /// `Priority`.
    pub(crate) priority: i32,
    /// The operation's name (the only child of `Operation`).
    pub(crate) operation_name: String,
    /// `<Operation>` element as XML.
    pub(crate) operation_xml: String,
    /// `<Manifest>` or `<ManifestGenerator>` element as XML.
    pub(crate) manifest_xml: Option<String>,
    /// `<Report>` element as XML.
    pub(crate) report_xml: String,
    /// `RoleArn`.
    pub(crate) role_arn: String,
    /// `Tags`.
    pub(crate) tags: Vec<Tag>,
    /// Hash of the request's meaningful fields (idempotency check).
    pub(crate) fingerprint: [u8; 32],
}

/// The operation names of the model's `OperationName` enum.
pub(crate) const OPERATION_NAMES: [&str; 11] = [
    "LambdaInvoke",
    "S3PutObjectCopy",
    "S3PutObjectAcl",
    "S3PutObjectTagging",
    "S3DeleteObjectTagging",
    "S3InitiateRestoreObject",
    "S3PutObjectLegalHold",
    "S3PutObjectRetention",
    "S3ReplicateObject",
    "S3ComputeObjectChecksum",
    "S3UpdateObjectEncryption",
];

fn bad(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::BadRequest, message)
}

fn parse_root(body: &[u8], root: &str) -> Result<Element, WireError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("request body is not UTF-8"))?;
    let element = xml::parse(text).map_err(bad)?;
    if element.name != root {
        return Err(bad(format!(
            "expected root element {root}, found {}",
            element.name
        )));
    }
    Ok(element)
}

fn element_xml(element: &Element) -> String {
    let mut out = String::new();
    element.write(&mut out);
    out
}

/// Parses a `CreateJobRequest` body and validates it against the model's required members and limits.
pub(crate) fn parse_create_job(body: &[u8]) -> Result<CreateJobRequest, WireError> {
    let root = parse_root(body, "CreateJobRequest")?;
    let token = root
        .child_text("ClientRequestToken")
        .ok_or_else(|| bad("ClientRequestToken is required"))?
        .to_owned();
    check_len("ClientRequestToken", &token, 1, 64)?;
    let confirmation_required = match root.child_text("ConfirmationRequired") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(bad(format!(
                "ConfirmationRequired must be true or false, not {other:?}"
            )));
        }
    };
    let description = root.child_text("Description").map(str::to_owned);
    if let Some(d) = &description {
        check_len("Description", d, 1, 256)?;
    }
    let priority = parse_priority(
        root.child_text("Priority")
            .ok_or_else(|| bad("Priority is required"))?,
    )?;
    let operation = root
        .child("Operation")
        .ok_or_else(|| bad("Operation is required"))?;
    let [op] = operation.children.as_slice() else {
        return Err(bad("Operation must contain exactly one operation element"));
    };
    if !OPERATION_NAMES.contains(&op.name.as_str()) {
        return Err(bad(format!("unknown operation {}", op.name)));
    }
    let manifest = root.child("Manifest");
    let generator = root.child("ManifestGenerator");
    let manifest_xml = match (manifest, generator) {
        (Some(m), None) => Some(element_xml(m)),
        (None, Some(g)) => Some(element_xml(g)),
        (None, None) => return Err(bad("one of Manifest or ManifestGenerator is required")),
        (Some(_), Some(_)) => {
            return Err(bad("Manifest and ManifestGenerator are mutually exclusive"));
        }
    };
    let report = root
        .child("Report")
        .ok_or_else(|| bad("Report is required"))?;
    if report.child_text("Enabled").is_none() {
        return Err(bad("Report.Enabled is required"));
    }
    let role_arn = root
        .child_text("RoleArn")
        .ok_or_else(|| bad("RoleArn is required"))?
        .to_owned();
    check_len("RoleArn", &role_arn, 1, 2048)?;
    if !role_arn.starts_with("arn:") || !role_arn.contains(":iam::") || !role_arn.contains(":role/")
    {
        return Err(bad(format!("RoleArn {role_arn:?} is not an IAM role ARN")));
    }
    let tags = match root.child("Tags") {
        Some(tags) => parse_tags(tags)?,
        None => Vec::new(),
    };
    let mut hasher = sha2::Sha256::new();
    let mut canonical = root.clone();
    canonical
        .children
        .retain(|c| c.name != "ClientRequestToken");
    hasher.update(element_xml(&canonical).as_bytes());
    Ok(CreateJobRequest {
        client_request_token: token,
        confirmation_required,
        description,
        priority,
        operation_name: op.name.clone(),
        operation_xml: element_xml(operation),
        manifest_xml,
        report_xml: element_xml(report),
        role_arn,
        tags,
        fingerprint: hasher.finalize().into(),
    })
}

/// Parses a `PutJobTaggingRequest` body. A missing `Tags` element is an empty set (the Rust SDK omits an
/// empty list), which deletes all tags as the model documents for an empty set.
pub(crate) fn parse_put_job_tagging(body: &[u8]) -> Result<Vec<Tag>, WireError> {
    let root = parse_root(body, "PutJobTaggingRequest")?;
    match root.child("Tags") {
        Some(tags) => parse_tags(tags),
        None => Ok(Vec::new()),
    }
}

fn parse_tags(tags: &Element) -> Result<Vec<Tag>, WireError> {
    let mut out: Vec<Tag> = Vec::new();
    for member in &tags.children {
        let key = member
            .child_text("Key")
            .ok_or_else(|| bad("every tag needs a Key"))?
            .to_owned();
        let value = member.child_text("Value").unwrap_or("").to_owned();
        check_len("tag key", &key, 1, 128)?;
        if value.chars().count() > 256 {
            return Err(bad("tag values are at most 256 characters"));
        }
        check_tag_text("TagKey", &key)?;
        check_tag_text("TagValue", &value)?;
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(WireError::new(
                ErrorCode::InvalidTag,
                "Your TagKey cannot be prefixed with aws: (reserved for AWS use, in any letter case)",
            ));
        }
        if out.iter().any(|t| t.key == key) {
            return Err(bad(format!("duplicate tag key {key:?}")));
        }
        out.push(Tag { key, value });
    }
    if out.len() > MAX_TAGS {
        return Err(WireError::new(
            ErrorCode::TooManyTags,
            format!(
                "{} tags given; a job can have at most {MAX_TAGS}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The model's tag pattern `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`: letters, separators (spaces), numbers and
/// `_ . : / = + - @`.
fn check_tag_text(what: &str, text: &str) -> Result<(), WireError> {
    let allowed = |c: char| {
        c.is_alphabetic()
            || c.is_numeric()
            || (c.is_whitespace() && !c.is_control())
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    };
    match text.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(WireError::new(
            ErrorCode::InvalidTag,
            format!(
                "The {what} you have provided is invalid: {c:?} is not a letter, number, space or one of _ . : / = + - @"
            ),
        )),
    }
}

fn check_len(what: &str, text: &str, min: usize, max: usize) -> Result<(), WireError> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(bad(format!(
            "{what} must be {min} to {max} characters long, got {n}"
        )));
    }
    Ok(())
}

/// Validates a job id (5–36 chars of `[a-zA-Z0-9\-_]`).
pub(crate) fn check_job_id(id: &str) -> Result<(), WireError> {
    let ok = (5..=36).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "job id {id:?} must be 5 to 36 characters of letters, digits, '-' and '_'"
        )))
    }
}

/// Validates a `statusUpdateReason` (1–256 chars).
pub(crate) fn check_reason(reason: &str) -> Result<(), WireError> {
    check_len("statusUpdateReason", reason, 1, 256)
}

/// Parses a priority (0–2147483647).
pub(crate) fn parse_priority(text: &str) -> Result<i32, WireError> {
    match text.trim().parse::<i32>() {
        Ok(p) if p >= 0 => Ok(p),
        _ => Err(bad(format!(
            "priority must be an integer from 0 to 2147483647, got {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><ClientRequestToken>5e8af9f7-6ebd-4d9a-ad53-8fc84d21a6ba</ClientRequestToken><ConfirmationRequired>true</ConfirmationRequired><Description>demo</Description><Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::bkt/manifest.csv</ObjectArn><ETag>abc</ETag></Location></Manifest><Operation><S3PutObjectTagging><TagSet><member><Key>a</Key><Value>b</Value></member></TagSet></S3PutObjectTagging></Operation><Priority>10</Priority><Report><Enabled>false</Enabled></Report><RoleArn>arn:aws:iam::123456789012:role/batch</RoleArn></CreateJobRequest>"#;

    #[test]
    fn parses_the_create_job_body_the_sdk_sends() {
        let req = parse_create_job(CREATE.as_bytes()).unwrap();
        assert_eq!(req.operation_name, "S3PutObjectTagging");
        assert_eq!(req.priority, 10);
        assert_eq!(req.confirmation_required, Some(true));
        assert!(
            req.operation_xml
                .starts_with("<Operation><S3PutObjectTagging><TagSet><member>")
        );
        assert!(
            req.manifest_xml
                .unwrap()
                .contains("<Fields><member>Bucket</member>")
        );
    }

    #[test]
    fn rejects_bad_create_job_bodies() {
        let cases = [
            ("<Nope/>", "expected root"),
            (
                &CREATE.replace("<Priority>10</Priority>", "<Priority>-1</Priority>"),
                "priority",
            ),
            (
                &CREATE.replace("S3PutObjectTagging>", "S3Bogus>"),
                "unknown operation",
            ),
            (
                &CREATE.replace(
                    "<RoleArn>arn:aws:iam::123456789012:role/batch</RoleArn>",
                    "",
                ),
                "RoleArn",
            ),
        ];
        for (body, needle) in cases {
            let err = parse_create_job(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest);
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn error_envelope_is_wrapped() {
        let body = error(&WireError::new(ErrorCode::NotFound, "no <job>"), "REQ1");
        assert!(body.contains("<ErrorResponse xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\"><Error><Type>Sender</Type><Code>NotFoundException</Code><Message>no &lt;job&gt;</Message></Error><RequestId>REQ1</RequestId>"));
    }

    #[test]
    fn job_id_and_reason_limits() {
        assert!(check_job_id("abcd").is_err());
        assert!(check_job_id("abcde").is_ok());
        assert!(check_job_id(&"a".repeat(37)).is_err());
        assert!(check_job_id("abc/de").is_err());
        assert!(check_reason("").is_err());
        assert!(check_reason(&"r".repeat(257)).is_err());
        assert!(parse_priority("2147483647").is_ok());
        assert!(parse_priority("2147483648").is_err());
    }
}
