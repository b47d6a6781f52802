//! Request encoder: a target's request bytes are built once; the only part
//! that varies per request is an optional fixed-width request id, patched in
//! place so sending never allocates.

use super::url::Url;
use crate::error::PlanError;

/// Length of a hyphenated UUID, the request id written into the query.
pub const ID_LEN: usize = 36;

/// Prebuilt request bytes for one target.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    bytes: Vec<u8>,
    id_offset: Option<usize>,
}

impl RequestTemplate {
    /// Encodes `method url` with `headers` and `body`. Adds `Host`,
    /// `User-Agent` and `Content-Length` unless given; with `send_id`, leaves
    /// room for `x-request-id=<uuid>` in the query.
    pub fn build(
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &[u8],
        send_id: bool,
    ) -> Result<RequestTemplate, PlanError> {
        if method.is_empty() || !method.bytes().all(is_token) {
            return Err(PlanError::Method(method.to_string()));
        }
        let mut has = Has::default();
        for (name, value) in headers {
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(PlanError::Header(name.clone(), "name is not a token"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(PlanError::Header(
                    name.clone(),
                    "value contains CR, LF or NUL",
                ));
            }
            has.note(name);
        }
        let mut out = Vec::with_capacity(128 + body.len() + headers.len() * 32);
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(url.path_and_query.as_bytes());
        let mut id_offset = None;
        if send_id {
            out.push(if url.path_and_query.contains('?') {
                b'&'
            } else {
                b'?'
            });
            out.extend_from_slice(b"x-request-id=");
            id_offset = Some(out.len());
            out.extend_from_slice(&[b'0'; ID_LEN]);
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !has.host {
            push_header(&mut out, "Host", &url.authority);
        }
        if !has.user_agent {
            push_header(&mut out, "User-Agent", "goto");
        }
        for (name, value) in headers {
            push_header(&mut out, name, value.trim());
        }
        let method_expects_body = ["POST", "PUT", "PATCH"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method));
        if !has.content_length
            && !has.transfer_encoding
            && (!body.is_empty() || method_expects_body)
        {
            push_header(&mut out, "Content-Length", &body.len().to_string());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Ok(RequestTemplate {
            bytes: out,
            id_offset,
        })
    }

    /// The encoded request (with a zeroed id when it carries one).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the request id goes in [`Self::bytes`], if the target sends one.
    pub fn id_offset(&self) -> Option<usize> {
        self.id_offset
    }
}

/// Writes a fresh random (v4) UUID at `offset` in a copy of the request bytes.
pub fn write_request_id(buf: &mut [u8], offset: usize, random: u128) {
    let id = uuid::Builder::from_random_bytes(random.to_le_bytes()).into_uuid();
    if let Some(slot) = buf.get_mut(offset..offset + ID_LEN) {
        id.hyphenated().encode_lower(slot);
    }
}

#[derive(Default)]
struct Has {
    host: bool,
    user_agent: bool,
    content_length: bool,
    transfer_encoding: bool,
}

impl Has {
    fn note(&mut self, name: &str) {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        self.host |= is("host");
        self.user_agent |= is("user-agent");
        self.content_length |= is("content-length");
        self.transfer_encoding |= is("transfer-encoding");
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// RFC 9110 token characters (method and header names).
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn encodes_get_with_defaults() {
        let t = RequestTemplate::build("GET", &url("http://h:81/p?q=1"), &[], b"", false).unwrap();
        assert_eq!(
            t.bytes(),
            b"GET /p?q=1 HTTP/1.1\r\nHost: h:81\r\nUser-Agent: goto\r\n\r\n"
        );
        assert_eq!(t.id_offset(), None);
    }

    #[test]
    fn user_headers_replace_defaults_and_body_gets_length() {
        let headers = vec![
            ("Host".to_string(), "example".to_string()),
            ("X-A".to_string(), " v ".to_string()),
        ];
        let t = RequestTemplate::build("POST", &url("http://h/"), &headers, b"abc", false).unwrap();
        let text = std::str::from_utf8(t.bytes()).unwrap();
        assert_eq!(
            text,
            "POST / HTTP/1.1\r\nUser-Agent: goto\r\nHost: example\r\nX-A: v\r\nContent-Length: 3\r\n\r\nabc"
        );
    }

    #[test]
    fn request_id_is_patched_in_place() {
        let t = RequestTemplate::build("GET", &url("http://h/p?a=b"), &[], b"", true).unwrap();
        let off = t.id_offset().unwrap();
        let mut bytes = t.bytes().to_vec();
        write_request_id(&mut bytes, off, 0x1234_5678_9abc_def0_1122_3344_5566_7788);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("GET /p?a=b&x-request-id="), "{text}");
        let id = &text[off..off + ID_LEN];
        let parsed = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert!(text[off + ID_LEN..].starts_with(" HTTP/1.1\r\n"));
    }

    #[test]
    fn refuses_bad_method_and_headers() {
        let u = url("http://h/");
        assert!(RequestTemplate::build("GE T", &u, &[], b"", false).is_err());
        let crlf = vec![("X".to_string(), "a\r\nb".to_string())];
        assert!(RequestTemplate::build("GET", &u, &crlf, b"", false).is_err());
        let bad_name = vec![("X Y".to_string(), "a".to_string())];
        assert!(RequestTemplate::build("GET", &u, &bad_name, b"", false).is_err());
    }
}
