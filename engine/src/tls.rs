//! TLS set-up for https targets: rustls client configurations (verifying
//! against system roots plus extra CA files, or not verifying at all) and the
//! server name used for SNI and verification. The record I/O itself lives in
//! [`crate::conn`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::PlanError;

/// Which certificates https targets are verified against.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Extra CA certificates: PEM files, or directories whose `.crt`/`.pem`
    /// files are all loaded.
    pub extra_roots: Vec<PathBuf>,
    /// Extra CA certificates already loaded (a server's `--certs`, read
    /// once at startup by [`load_ca_dir`]).
    pub extra_certs: Vec<CertificateDer<'static>>,
    /// Also trust the operating system's roots.
    pub use_system_roots: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            extra_roots: Vec::new(),
            extra_certs: Vec::new(),
            use_system_roots: true,
        }
    }
}

/// What [`load_ca_dir`] found: the certificates it trusts and the files it
/// skipped, each with the reason.
#[derive(Debug, Default)]
pub struct CaDir {
    pub certs: Vec<CertificateDer<'static>>,
    /// The `.crt`/`.pem` files that held at least one usable certificate.
    pub files: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Loads every `.crt`/`.pem` file of `dir`, skipping (and listing) the
/// ones that cannot be read or hold no valid certificate: one bad file in a
/// shared directory must not cost the others, nor plain http. A missing
/// directory is an empty one; an unreadable one is listed as skipped.
pub fn load_ca_dir(dir: &Path) -> CaDir {
    let mut out = CaDir::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.skipped.push((dir.to_path_buf(), e.to_string()));
            return out;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_ca_name(p) && p.is_file())
        .collect();
    files.sort();
    for file in files {
        // Each certificate is checked as the root store will (webpki parses
        // it), so a PEM block of garbage is caught here, not at first use.
        let checked = read_pem_certs(&file).and_then(|certs| {
            let mut scratch = RootCertStore::empty();
            for c in &certs {
                scratch
                    .add(c.clone())
                    .map_err(|e| PlanError::Tls(format!("bad CA certificate: {e}")))?;
            }
            Ok(certs)
        });
        match checked {
            Ok(certs) => {
                out.certs.extend(certs);
                out.files.push(file);
            }
            Err(e) => {
                let why = match e {
                    PlanError::Tls(m) => m,
                    other => other.to_string(),
                };
                out.skipped.push((file, why));
            }
        }
    }
    out
}

fn is_ca_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("crt") || e.eq_ignore_ascii_case("pem"))
}

/// Client configurations, built on first use and shared by every connection.
#[derive(Debug)]
pub(crate) struct TlsConfigs {
    config: TlsConfig,
    verifying: OnceLock<Result<Arc<ClientConfig>, PlanError>>,
    insecure: OnceLock<Result<Arc<ClientConfig>, PlanError>>,
    /// The same two offering ALPN h2 instead of http/1.1, for HTTP/2 targets.
    verifying_h2: OnceLock<Result<Arc<ClientConfig>, PlanError>>,
    insecure_h2: OnceLock<Result<Arc<ClientConfig>, PlanError>>,
}

impl TlsConfigs {
    pub(crate) fn new(config: TlsConfig) -> TlsConfigs {
        TlsConfigs {
            config,
            verifying: OnceLock::new(),
            insecure: OnceLock::new(),
            verifying_h2: OnceLock::new(),
            insecure_h2: OnceLock::new(),
        }
    }

    pub(crate) fn config(&self) -> &TlsConfig {
        &self.config
    }

    /// The configuration for a target: verifying or not.
    pub(crate) fn get(&self, verify: bool) -> Result<Arc<ClientConfig>, PlanError> {
        if verify {
            self.verifying
                .get_or_init(|| build_verifying(&self.config))
                .clone()
        } else {
            self.insecure.get_or_init(build_insecure).clone()
        }
    }

    /// The configuration for an HTTP/2 target: ALPN h2 only.
    pub(crate) fn get_h2(&self, verify: bool) -> Result<Arc<ClientConfig>, PlanError> {
        let cell = if verify {
            &self.verifying_h2
        } else {
            &self.insecure_h2
        };
        cell.get_or_init(|| {
            let mut c = Arc::unwrap_or_clone(self.get(verify)?);
            c.alpn_protocols = vec![b"h2".to_vec()];
            Ok(Arc::new(c))
        })
        .clone()
    }

    /// Loads the roots now, so a bad `--cacert` is reported before a run.
    pub(crate) fn check(&self) -> Result<(), PlanError> {
        if self.config.extra_roots.is_empty() {
            return Ok(());
        }
        self.get(true).map(|_| ())
    }
}

/// A client configuration for `config` (verifying or not) that offers
/// `alpn`; for clients outside the engine, such as the HTTP/2 runner.
pub fn client_config(
    config: &TlsConfig,
    verify: bool,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, PlanError> {
    let base = if verify {
        build_verifying(config)?
    } else {
        build_insecure()?
    };
    let mut c = Arc::unwrap_or_clone(base);
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(c))
}

/// The TLS server name of a target: its `Host` header's host when given,
/// else the URL's host (public form of [`server_name`]).
pub fn tls_server_name(
    url_host: &str,
    host_header: Option<&str>,
) -> Result<ServerName<'static>, PlanError> {
    server_name(url_host, host_header)
}

/// Most reads and writes one probe handshake may take (a TLS 1.3 handshake
/// needs a handful).
const HANDSHAKE_STEPS: usize = 32;

/// One blocking TLS handshake over a connected socket, each read and write
/// bounded by `timeout`: lets a command line fail fast on a certificate the
/// run would refuse on every connect.
pub fn check_handshake(
    mut sock: std::net::TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    timeout: std::time::Duration,
) -> Result<(), crate::error::TlsErrorKind> {
    use crate::error::TlsErrorKind;
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    let mut conn =
        rustls::ClientConnection::new(config, name).map_err(|e| TlsErrorKind::from_rustls(&e))?;
    for _ in 0..HANDSHAKE_STEPS {
        if !conn.is_handshaking() {
            return Ok(());
        }
        if let Err(e) = conn.complete_io(&mut sock) {
            let tls = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            return Err(match tls {
                Some(t) => TlsErrorKind::from_rustls(t),
                None if e.kind() == std::io::ErrorKind::UnexpectedEof => TlsErrorKind::HandshakeEof,
                None => TlsErrorKind::Protocol,
            });
        }
    }
    if conn.is_handshaking() {
        Err(TlsErrorKind::Protocol)
    } else {
        Ok(())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build_verifying(config: &TlsConfig) -> Result<Arc<ClientConfig>, PlanError> {
    let roots = load_roots(config)?;
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PlanError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

fn build_insecure() -> Result<Arc<ClientConfig>, PlanError> {
    let provider = provider();
    let mut c = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PlanError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

fn load_roots(config: &TlsConfig) -> Result<RootCertStore, PlanError> {
    let mut store = RootCertStore::empty();
    if config.use_system_roots {
        // Unreadable system certificates are skipped, as browsers and curl do.
        let native = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(native.certs);
    }
    for path in &config.extra_roots {
        for file in ca_files(path)? {
            for cert in read_pem_certs(&file)? {
                store.add(cert).map_err(|e| {
                    PlanError::Tls(format!("bad CA certificate in {}: {e}", file.display()))
                })?;
            }
        }
    }
    for cert in &config.extra_certs {
        store
            .add(cert.clone())
            .map_err(|e| PlanError::Tls(format!("bad CA certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err(PlanError::Tls(
            "no trusted root certificates (use --cacert or --insecure)".into(),
        ));
    }
    Ok(store)
}

/// A file, or the `.crt`/`.pem` files of a directory (sorted).
fn ca_files(path: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let cannot = |e: std::io::Error| PlanError::Tls(format!("cannot read {}: {e}", path.display()));
    if !path.is_dir() {
        std::fs::metadata(path).map_err(cannot)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(cannot)? {
        let p = entry.map_err(cannot)?.path();
        if is_ca_name(&p) && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(PlanError::Tls(format!(
            "no .crt or .pem files in {}",
            path.display()
        )));
    }
    Ok(files)
}

fn read_pem_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, PlanError> {
    let cannot = |e: rustls::pki_types::pem::Error| {
        PlanError::Tls(format!("cannot read {}: {e}", file.display()))
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(file)
        .map_err(cannot)?
        .collect::<Result<_, _>>()
        .map_err(cannot)?;
    if certs.is_empty() {
        return Err(PlanError::Tls(format!(
            "no PEM certificates in {}",
            file.display()
        )));
    }
    Ok(certs)
}

/// The TLS server name: the `Host` header's host when one is given, else
/// the URL's host.
pub(crate) fn server_name(
    url_host: &str,
    host_header: Option<&str>,
) -> Result<ServerName<'static>, PlanError> {
    let host = match host_header {
        Some(h) => crate::http1::url::split_host_port(h.trim(), 443)
            .map(|(host, _)| host)
            .map_err(|reason| PlanError::Header("Host".into(), reason))?,
        None => url_host.to_string(),
    };
    ServerName::try_from(host.clone())
        .map_err(|_| PlanError::Tls(format!("invalid server name {host:?}")))
}

/// Accepts any certificate (`--insecure`, `verifyTLS: false`); signatures
/// are still checked so the handshake itself stays well-formed.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_prefers_host_header() {
        let n = server_name("127.0.0.1", Some("example.com:8443")).unwrap();
        assert_eq!(n.to_str(), "example.com");
        let n = server_name("127.0.0.1", None).unwrap();
        assert_eq!(n.to_str(), "127.0.0.1");
    }

    #[test]
    fn missing_cacert_is_a_plan_error() {
        let cfg = TlsConfig {
            extra_roots: vec!["/nonexistent/ca.pem".into()],
            extra_certs: Vec::new(),
            use_system_roots: false,
        };
        let err = TlsConfigs::new(cfg).check().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn insecure_config_builds() {
        let cfg = TlsConfigs::new(TlsConfig {
            extra_roots: vec![],
            extra_certs: Vec::new(),
            use_system_roots: false,
        });
        assert!(cfg.get(false).is_ok());
    }

    /// Issue 24 row 6: a garbage file next to a good CA is skipped and
    /// named; the good CA is still trusted.
    #[test]
    fn a_bad_file_in_a_ca_dir_is_skipped_and_named() {
        let dir = std::env::temp_dir().join(format!("goto-ca-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&key).unwrap();
        std::fs::write(dir.join("good.crt"), ca.pem()).unwrap();
        std::fs::write(dir.join("bad.pem"), b"\x00\x13 not a certificate").unwrap();
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.join("broken.crt"), broken).unwrap();
        std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
        let got = load_ca_dir(&dir);
        assert_eq!(got.certs.len(), 1);
        assert_eq!(got.files, vec![dir.join("good.crt")]);
        let skipped: Vec<_> = got.skipped.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(skipped, vec![dir.join("bad.pem"), dir.join("broken.crt")]);
        let cfg = TlsConfigs::new(TlsConfig {
            extra_certs: got.certs,
            use_system_roots: false,
            ..TlsConfig::default()
        });
        assert!(cfg.check().is_ok() && cfg.get(true).is_ok());
        assert!(load_ca_dir(&dir.join("absent")).skipped.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
