//! Who gets in: every job request must carry an `Authorization: AWS4-HMAC-SHA256 …` header; when the
//! sandbox has credentials it verifies the SigV4 signature (canonical request, string to sign, signing key).
//!
//! Written from the SigV4 specification (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>)
//! with S3's rules (signing name `s3`: the path is used as sent, never normalised or double-encoded; the
//! payload hash comes from `x-amz-content-sha256` when present). Shares no code with the client side.
//! Does not check clock skew: sandbox time is simulated, so `RequestTimeTooSkewed` would only confuse.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::{ErrorCode, SandboxError, WireError};

type HmacSha256 = Hmac<Sha256>;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (SigV4 query canonicalisation).
const SIGV4_QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An access key the sandbox accepts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The access key id (`AKID…`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Static credentials.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        }
    }

    /// Parses `AKID:SECRET` (the secret may itself contain `:`).
    pub fn parse(text: &str) -> Result<Credentials, SandboxError> {
        match text.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok(Credentials::new(id, secret))
            }
            _ => Err(SandboxError::InvalidKnob(
                "credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY".to_owned(),
            )),
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Default)]
pub(crate) enum AuthMode {
    /// Any well-formed `AWS4-HMAC-SHA256` header passes (no credentials configured).
    #[default]
    RequireHeader,
    /// The signature must verify against one of these credentials.
    Verify(Vec<Credentials>),
}

/// The request parts the verifier needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedRequest<'a> {
    /// HTTP method.
    pub(crate) method: &'a str,
    /// Path exactly as sent (still percent-encoded).
    pub(crate) raw_path: &'a str,
    /// Query string exactly as sent, without `?`.
    pub(crate) raw_query: Option<&'a str>,
    /// Authority from an absolute-form request URI, used when there is no `Host` header.
    pub(crate) uri_authority: Option<&'a str>,
    /// Headers.
    pub(crate) headers: &'a HeaderMap,
    /// Body.
    pub(crate) body: &'a [u8],
}

/// The parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    scope: &'a str,
    scope_date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn malformed(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::AuthorizationHeaderMalformed, message)
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, WireError> {
    let Some(rest) = value.strip_prefix("AWS4-HMAC-SHA256") else {
        return Err(WireError::new(
            ErrorCode::UnsupportedAuthorization,
            "the authorization mechanism you have provided is not supported; use AWS4-HMAC-SHA256",
        ));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {
                return Err(malformed(format!(
                    "unexpected Authorization component {part:?}"
                )));
            }
        }
    }
    let credential = credential.ok_or_else(|| malformed("Authorization has no Credential"))?;
    let signed = signed.ok_or_else(|| malformed("Authorization has no SignedHeaders"))?;
    let signature = signature.ok_or_else(|| malformed("Authorization has no Signature"))?;
    let (access_key_id, scope) = credential
        .split_once('/')
        .ok_or_else(|| malformed("Credential must be AKID/date/region/service/aws4_request"))?;
    let parts: Vec<&str> = scope.split('/').collect();
    let [scope_date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(malformed(
            "Credential must be AKID/date/region/service/aws4_request",
        ));
    };
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("Signature must be 64 hex digits"));
    }
    Ok(Authorization {
        access_key_id,
        scope,
        scope_date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// The access key id a request was signed with, when its `Authorization` header parses.
pub(crate) fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let value = header_str(headers, "authorization")?;
    parse_authorization(value)
        .ok()
        .map(|auth| auth.access_key_id.to_owned())
}

/// Checks a request's authentication under `mode`; answers the region of the credential scope (the
/// region the client signed for, which is the region it believes it is talking to).
pub(crate) fn authenticate(mode: &AuthMode, req: &SignedRequest<'_>) -> Result<String, WireError> {
    let Some(value) = req.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(WireError::new(
            ErrorCode::AccessDenied,
            "Access Denied: the request is not signed (no Authorization header); sign it with AWS Signature Version 4",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| malformed("the Authorization header is not ASCII"))?;
    let auth = parse_authorization(value)?;
    let AuthMode::Verify(keys) = mode else {
        return Ok(auth.region.to_owned());
    };
    let Some(key) = keys.iter().find(|k| k.access_key_id == auth.access_key_id) else {
        return Err(WireError::new(
            ErrorCode::InvalidAccessKeyId,
            format!(
                "The AWS Access Key Id you provided ({}) does not exist in our records.",
                auth.access_key_id
            ),
        ));
    };
    let amz_date = header_str(req.headers, "x-amz-date")
        .ok_or_else(|| malformed("a SigV4-signed request needs an x-amz-date header"))?;
    if !amz_date.starts_with(auth.scope_date) {
        return Err(malformed(format!(
            "the credential scope date {} does not match x-amz-date {amz_date}",
            auth.scope_date
        )));
    }
    let payload_hash = payload_hash(req)?;
    let canonical = canonical_request(req, &auth.signed_headers, &payload_hash)?;
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        auth.scope,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(
        &key.secret_access_key,
        auth.scope_date,
        auth.region,
        auth.service,
    );
    let expected = hmac(&key, string_to_sign.as_bytes());
    let given = hex::decode(auth.signature).map_err(|_| malformed("Signature must be hex"))?;
    if !constant_time_eq(&expected, &given) {
        return Err(WireError::new(
            ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ));
    }
    Ok(auth.region.to_owned())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn payload_hash(req: &SignedRequest<'_>) -> Result<String, WireError> {
    let actual = || hex::encode(Sha256::digest(req.body));
    match header_str(req.headers, "x-amz-content-sha256") {
        None => Ok(actual()),
        Some(h) if h == "UNSIGNED-PAYLOAD" || h.starts_with("STREAMING-") => Ok(h.to_owned()),
        Some(h) => {
            if !h.eq_ignore_ascii_case(&actual()) {
                return Err(WireError::new(
                    ErrorCode::ContentSha256Mismatch,
                    "the provided x-amz-content-sha256 header does not match what was computed",
                ));
            }
            Ok(h.to_owned())
        }
    }
}

fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    payload_hash: &str,
) -> Result<String, WireError> {
    let mut out = String::with_capacity(512);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(if req.raw_path.is_empty() {
        "/"
    } else {
        req.raw_path
    });
    out.push('\n');
    let mut pairs: Vec<(String, String)> = req
        .raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (canonical_component(k), canonical_component(v))
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(collapse_spaces)
            .collect();
        let value = if values.is_empty() && *name == "host" {
            req.uri_authority.map(str::to_owned)
        } else if values.is_empty() {
            None
        } else {
            Some(values.join(","))
        };
        let Some(value) = value else {
            return Err(WireError::new(
                ErrorCode::SignatureDoesNotMatch,
                format!("signed header {name} is missing from the request"),
            ));
        };
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

fn canonical_component(raw: &str) -> String {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    utf8_percent_encode(&decoded, SIGV4_QUERY).to_string()
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla-query-order-key-case` vector of the AWS SigV4 test suite (service `service`).
    #[test]
    fn verifies_the_aws_test_suite_vector() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
                .parse()
                .unwrap(),
        );
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: Some("Param2=value2&Param1=value1"),
            uri_authority: None,
            headers: &headers,
            body: b"",
        };
        let good = AuthMode::Verify(vec![Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )]);
        assert_eq!(authenticate(&good, &req), Ok("us-east-1".to_owned()));
        let wrong_secret = AuthMode::Verify(vec![Credentials::new("AKIDEXAMPLE", "nope")]);
        assert_eq!(
            authenticate(&wrong_secret, &req).unwrap_err().code,
            ErrorCode::SignatureDoesNotMatch
        );
        let other_key = AuthMode::Verify(vec![Credentials::new("AKIDOTHER", "x")]);
        assert_eq!(
            authenticate(&other_key, &req).unwrap_err().code,
            ErrorCode::InvalidAccessKeyId
        );
    }

    #[test]
    fn header_presence_and_shape_are_checked() {
        let headers = HeaderMap::new();
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: None,
            uri_authority: None,
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            authenticate(&AuthMode::RequireHeader, &req)
                .unwrap_err()
                .code,
            ErrorCode::AccessDenied
        );
        for (value, code) in [
            ("AWS AKID:sig", ErrorCode::UnsupportedAuthorization),
            (
                "AWS4-HMAC-SHA256 Credential=AKID",
                ErrorCode::AuthorizationHeaderMalformed,
            ),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", value.parse().unwrap());
            let req = SignedRequest {
                headers: &headers,
                ..req
            };
            assert_eq!(
                authenticate(&AuthMode::RequireHeader, &req)
                    .unwrap_err()
                    .code,
                code
            );
        }
    }

    #[test]
    fn credentials_parse_and_redact() {
        let c = Credentials::parse("AKID:se:cret").unwrap();
        assert_eq!(c.secret_access_key, "se:cret");
        assert!(!format!("{c:?}").contains("se:cret"));
        assert!(Credentials::parse("nosecret").is_err());
    }
}
