//! Typed errors: engine start-up ([`EngineError`]), plan validation
//! ([`PlanError`]) and the transport error kinds a run counts ([`ErrorKind`]).
//!
//! Transport errors are counted by a small `Copy` enum on the hot path and
//! only rendered to text when a snapshot or report is read.

use std::fmt;

use crate::IoDriver;

/// Why the engine could not start or accept a plan.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no CPU cores available to run workers on")]
    NoCores,
    #[error("io_uring is not available here (blocked or unsupported); use --io-driver epoll")]
    UringUnavailable,
    #[error("cannot start the {driver} runtime on core {core}: {source}")]
    Runtime {
        driver: IoDriver,
        core: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot spawn a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("invalid plan: {0}")]
    Plan(#[from] PlanError),
    #[error("the engine has shut down")]
    ShutDown,
}

/// Why a plan or target was refused; the text is one line, fit for a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("plan has no targets")]
    NoTargets,
    #[error("target name must not be empty")]
    EmptyName,
    #[error("duplicate target name {0:?}")]
    DuplicateName(String),
    #[error("invalid URL {url:?}: {reason}")]
    Url { url: String, reason: &'static str },
    #[error("invalid method {0:?}")]
    Method(String),
    #[error("invalid header {0:?}: {1}")]
    Header(String, &'static str),
    #[error("too many headers ({0}); the limit is {max}", max = crate::limits::MAX_REQUEST_HEADERS)]
    TooManyHeaders(usize),
    #[error("body too large ({0} bytes); the limit is {max}", max = crate::limits::MAX_BODY)]
    BodyTooLarge(usize),
    #[error("replicas must be at least 1")]
    NoReplicas,
    #[error("too many replicas ({0}); the limit is {max}", max = crate::limits::MAX_REPLICAS)]
    TooManyReplicas(u32),
    #[error("too many retries ({0}); the limit is {max}", max = crate::limits::MAX_RETRIES)]
    TooManyRetries(u32),
    #[error("rate must be a positive, finite number of requests per second")]
    Rate,
    #[error("invalid tracked header name {0:?}")]
    TrackedHeader(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("streams per connection must be 1 to {max}, not {0}", max = crate::limits::MAX_STREAMS_PER_CONNECTION)]
    Streams(u32),
    #[error("URL {0:?} does not share the scheme, host and port of the target's first URL")]
    OtherAuthority(String),
    #[error("several URLs on one target need HTTP/1.1")]
    MoreUrlsHttp2,
}

/// A transport-level failure of one request; counted with status code 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The host name did not resolve when the plan was submitted.
    Resolve,
    /// The server refused the TCP connection.
    ConnectRefused,
    /// The TCP connect (or TLS handshake) did not finish within the connect timeout.
    ConnectTimeout,
    /// Another connect failure (raw OS error number).
    Connect(i32),
    /// No complete response within the request timeout.
    Timeout,
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection before the response was complete.
    Closed,
    /// Another socket error (raw OS error number).
    Io(i32),
    /// TLS handshake or record failure.
    Tls(TlsErrorKind),
    /// The response was not valid HTTP/1.x.
    Parse(ParseErrorKind),
}

/// TLS failures, coarse enough to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsErrorKind {
    UnknownIssuer,
    Expired,
    NotValidForName,
    BadCertificate,
    AlertReceived,
    HandshakeEof,
    Protocol,
}

/// Why a response could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParseErrorKind {
    /// Status line or a header line is malformed.
    InvalidHead,
    /// More header lines than the parser accepts.
    TooManyHeaders,
    /// The head did not end within the head size limit.
    HeadTooLarge,
    /// A Content-Length that is not a number, or conflicting ones.
    InvalidContentLength,
    /// A malformed chunk size line or chunk terminator.
    InvalidChunk,
    /// A status code below 100 (`000` included): not a response, and not to
    /// be counted under 0, the bucket of transport errors.
    InvalidStatus,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Resolve => f.write_str("connect: cannot resolve host"),
            ErrorKind::ConnectRefused => f.write_str("connect: connection refused"),
            ErrorKind::ConnectTimeout => f.write_str("connect: timeout"),
            ErrorKind::Connect(errno) => write!(f, "connect: {}", OsError(*errno)),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Reset => f.write_str("connection reset"),
            ErrorKind::Closed => f.write_str("connection closed"),
            ErrorKind::Io(errno) => write!(f, "io: {}", OsError(*errno)),
            ErrorKind::Tls(k) => write!(f, "tls: {k}"),
            ErrorKind::Parse(k) => write!(f, "parse: {k}"),
        }
    }
}

impl fmt::Display for TlsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsErrorKind::UnknownIssuer => "certificate signed by unknown authority",
            TlsErrorKind::Expired => "certificate expired",
            TlsErrorKind::NotValidForName => "certificate not valid for name",
            TlsErrorKind::BadCertificate => "invalid certificate",
            TlsErrorKind::AlertReceived => "alert received",
            TlsErrorKind::HandshakeEof => "connection closed during handshake",
            TlsErrorKind::Protocol => "protocol error",
        })
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseErrorKind::InvalidHead => "invalid response head",
            ParseErrorKind::TooManyHeaders => "too many headers",
            ParseErrorKind::HeadTooLarge => "response head too large",
            ParseErrorKind::InvalidContentLength => "invalid content-length",
            ParseErrorKind::InvalidChunk => "invalid chunked body",
            ParseErrorKind::InvalidStatus => "invalid status code",
        })
    }
}

/// Renders an OS error number the way users read it ("network unreachable").
struct OsError(i32);

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self.0 {
            libc::ECONNREFUSED => "connection refused",
            libc::ECONNRESET => "connection reset",
            libc::ETIMEDOUT => "timeout",
            libc::ENETUNREACH => "network unreachable",
            libc::EHOSTUNREACH => "host unreachable",
            libc::EADDRNOTAVAIL => "address not available",
            libc::EMFILE | libc::ENFILE => "too many open files",
            libc::EPIPE => "broken pipe",
            libc::ENOBUFS => "no buffer space available",
            _ => return write!(f, "os error {}", self.0),
        };
        f.write_str(text)
    }
}

impl ErrorKind {
    /// Classifies an I/O error seen while connecting.
    pub fn from_connect(e: &std::io::Error) -> ErrorKind {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => ErrorKind::ConnectRefused,
            Some(libc::ETIMEDOUT) => ErrorKind::ConnectTimeout,
            Some(errno) => ErrorKind::Connect(errno),
            None if e.kind() == std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
            None if e.kind() == std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
            None => ErrorKind::Connect(0),
        }
    }

    /// Classifies an I/O error seen on an established connection.
    pub fn from_io(e: &std::io::Error) -> ErrorKind {
        match e.raw_os_error() {
            Some(libc::ECONNRESET) | Some(libc::EPIPE) => ErrorKind::Reset,
            Some(libc::ETIMEDOUT) => ErrorKind::Timeout,
            Some(errno) => ErrorKind::Io(errno),
            None => match e.kind() {
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted => ErrorKind::Reset,
                std::io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
                std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
                _ => ErrorKind::Io(0),
            },
        }
    }
}

impl TlsErrorKind {
    /// The server's certificate was refused: every connect would fail the
    /// same way until the user trusts its CA or turns verification off.
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            TlsErrorKind::UnknownIssuer
                | TlsErrorKind::Expired
                | TlsErrorKind::NotValidForName
                | TlsErrorKind::BadCertificate
        )
    }

    pub fn from_rustls(e: &rustls::Error) -> TlsErrorKind {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsErrorKind::UnknownIssuer,
                C::Expired | C::ExpiredContext { .. } => TlsErrorKind::Expired,
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    TlsErrorKind::NotValidForName
                }
                _ => TlsErrorKind::BadCertificate,
            },
            rustls::Error::AlertReceived(_) => TlsErrorKind::AlertReceived,
            _ => TlsErrorKind::Protocol,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_what_users_read() {
        assert_eq!(
            ErrorKind::ConnectRefused.to_string(),
            "connect: connection refused"
        );
        assert_eq!(ErrorKind::Timeout.to_string(), "timeout");
        assert_eq!(ErrorKind::Reset.to_string(), "connection reset");
        assert_eq!(
            ErrorKind::Tls(TlsErrorKind::UnknownIssuer).to_string(),
            "tls: certificate signed by unknown authority"
        );
        assert_eq!(
            ErrorKind::Parse(ParseErrorKind::HeadTooLarge).to_string(),
            "parse: response head too large"
        );
        assert_eq!(
            ErrorKind::Connect(libc::ENETUNREACH).to_string(),
            "connect: network unreachable"
        );
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(ErrorKind::from_connect(&refused), ErrorKind::ConnectRefused);
    }
}
