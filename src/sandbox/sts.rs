//! The two STS calls s3plan makes, answered on the sandbox's port (`AWS_ENDPOINT_URL_STS`): `GetCallerIdentity`
//! (the account of the access key) and `AssumeRole` (temporary credentials for the role's account, which the
//! sandbox then accepts). Query protocol: a form-encoded `POST /` with `Action=…`, answered in STS's XML.
//!
//! Owns the STS documents and the sessions AssumeRole hands out. Authentication, knobs and call counts are
//! the router's, as for the job API.

use std::fmt::Write as _;

use sha2::Digest as _;

use super::auth::Credentials;
use super::clock::SimTime;
use super::error::{ErrorCode, WireError};
use super::operation::Operation;
use super::xml::escape;

/// The STS XML namespace.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Longest `AssumeRole` session the sandbox grants (the service's default maximum is an hour unless the
/// role allows more; 12 hours is the largest any role allows).
const MAX_SESSION_SECONDS: i64 = 43_200;

/// Temporary credentials handed out by `AssumeRole`.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The key pair the client signs with from now on.
    pub(crate) credentials: Credentials,
    /// The role's account.
    pub(crate) account: String,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub(crate) arn: String,
}

/// The operation a form-encoded `POST /` asks for (`None`: not an STS call the sandbox answers).
pub(crate) fn operation(form: &[(String, String)]) -> Option<Operation> {
    match first(form, "Action") {
        Some("GetCallerIdentity") => Some(Operation::GetCallerIdentity),
        Some("AssumeRole") => Some(Operation::AssumeRole),
        _ => None,
    }
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn hex_id(parts: &[&str], len: usize) -> String {
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>()
        .chars()
        .take(len)
        .collect()
}

fn response(action: &str, result: &str, request_id: &str) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = write!(
        out,
        "<{action}Response xmlns=\"{NAMESPACE}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    );
    out
}

/// `GetCallerIdentity`: the caller's account and ARN (an assumed role's for a session key).
pub(crate) fn get_caller_identity(
    access_key_id: &str,
    account: &str,
    session: Option<&Session>,
    request_id: &str,
) -> String {
    let (arn, user_id) = match session {
        Some(s) => (
            s.arn.clone(),
            format!(
                "AROA{}:{}",
                hex_id(&[&s.account, &s.arn], 16),
                s.arn.rsplit('/').next().unwrap_or("session")
            ),
        ),
        None => (
            format!("arn:aws:iam::{account}:user/sandbox"),
            format!("AIDA{}", hex_id(&[access_key_id], 16)),
        ),
    };
    let result = format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
        escape(&arn),
        escape(&user_id),
        escape(account)
    );
    response("GetCallerIdentity", &result, request_id)
}

/// `AssumeRole`: checks the role ARN, session name and duration and makes a session for the role's
/// account. `expires` is wall-clock time: the SDK compares it with the machine's clock, not the sandbox's.
pub(crate) fn assume_role(
    form: &[(String, String)],
    known_account: impl Fn(&str) -> bool,
    serial: u64,
    now_wall: SimTime,
) -> Result<(Session, SimTime), WireError> {
    let invalid = |m: String| WireError::new(ErrorCode::ValidationError, m);
    let role_arn = first(form, "RoleArn").ok_or_else(|| invalid("RoleArn is required".into()))?;
    let session_name = first(form, "RoleSessionName")
        .ok_or_else(|| invalid("RoleSessionName is required".into()))?;
    if !(2..=64).contains(&session_name.len())
        || !session_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_".contains(&b))
    {
        return Err(invalid(format!(
            "RoleSessionName {session_name:?} must be 2 to 64 characters of [\\w+=,.@-]"
        )));
    }
    let (account, role) = role_arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":role/"))
        .filter(|(account, role)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty()
        })
        .ok_or_else(|| invalid(format!("RoleArn {role_arn:?} is not an IAM role ARN")))?;
    let seconds = match first(form, "DurationSeconds") {
        None => 3_600,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|s| (900..=MAX_SESSION_SECONDS).contains(s))
            .ok_or_else(|| {
                invalid(format!(
                    "DurationSeconds {text:?} must be from 900 to {MAX_SESSION_SECONDS}"
                ))
            })?,
    };
    if !known_account(account) {
        return Err(WireError::new(
            ErrorCode::AccessDenied,
            format!("User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"),
        ));
    }
    let role_name = role.rsplit('/').next().unwrap_or(role);
    let serial_text = serial.to_string();
    let access_key_id = format!(
        "ASIA{}",
        hex_id(&[role_arn, session_name, &serial_text], 16)
    );
    let secret = hex_id(&["secret", role_arn, session_name, &serial_text], 40);
    let session = Session {
        credentials: Credentials::new(access_key_id, secret),
        account: account.to_owned(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
    };
    Ok((session, now_wall.plus_ms(seconds * 1000)))
}

/// The `AssumeRoleResponse` document for `session`.
pub(crate) fn assume_role_response(
    session: &Session,
    expires: SimTime,
    request_id: &str,
) -> String {
    let token = format!(
        "FwoGZXIvYXdzE{}",
        hex_id(&["token", &session.credentials.access_key_id], 64)
    );
    let role_id = format!(
        "AROA{}:{}",
        hex_id(&[&session.account, &session.arn], 16),
        session.arn.rsplit('/').next().unwrap_or("session")
    );
    let result = format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
        escape(&session.credentials.access_key_id),
        escape(&session.credentials.secret_access_key),
        token,
        expires.to_rfc3339(),
        escape(&role_id),
        escape(&session.arn),
    );
    response("AssumeRole", &result, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn assume_role_checks_its_parameters() {
        let known = |a: &str| a == "444455556666";
        let ok = form(&[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::444455556666:role/ops/batch-admin"),
            ("RoleSessionName", "s3plan"),
        ]);
        let (session, expires) = assume_role(&ok, known, 1, SimTime(0)).unwrap();
        assert_eq!(session.account, "444455556666");
        assert_eq!(
            session.arn,
            "arn:aws:sts::444455556666:assumed-role/batch-admin/s3plan"
        );
        assert!(session.credentials.access_key_id.starts_with("ASIA"));
        assert_eq!(expires, SimTime(3_600_000));
        let unknown = form(&[
            ("RoleArn", "arn:aws:iam::999999999999:role/x"),
            ("RoleSessionName", "s3plan"),
        ]);
        assert_eq!(
            assume_role(&unknown, known, 1, SimTime(0))
                .unwrap_err()
                .code,
            ErrorCode::AccessDenied
        );
        for bad in [
            form(&[
                ("RoleArn", "arn:aws:iam::44445555:role/x"),
                ("RoleSessionName", "s3plan"),
            ]),
            form(&[
                ("RoleArn", "arn:aws:iam::444455556666:role/x"),
                ("RoleSessionName", "a b"),
            ]),
            form(&[
                ("RoleArn", "arn:aws:iam::444455556666:role/x"),
                ("RoleSessionName", "s3plan"),
                ("DurationSeconds", "60"),
            ]),
        ] {
            assert_eq!(
                assume_role(&bad, known, 1, SimTime(0)).unwrap_err().code,
                ErrorCode::ValidationError
            );
        }
    }
}
