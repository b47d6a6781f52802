//! TLS for `https` listeners: a certificate given as PEM with the listener,
//! or a self-signed one made at add time for this host's names and
//! addresses. ALPN offers h2 and http/1.1, so one port serves both.

use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::host::HostInfo;

/// Why a listener's TLS identity could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("invalid certificate PEM: {0}")]
    CertPem(pem::Error),
    #[error("no certificate in cert PEM")]
    NoCert,
    #[error("no private key in key PEM")]
    NoKey,
    #[error("invalid key PEM: {0}")]
    KeyPem(pem::Error),
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(rcgen::Error),
    #[error("cannot use the generated key: {0}")]
    GeneratedKey(&'static str),
    #[error("TLS set-up: {0}")]
    Setup(rustls::Error),
    #[error("certificate and key do not make a TLS identity: {0}")]
    Identity(rustls::Error),
}

/// A listener's TLS acceptor and the certificate it presents (PEM), which
/// `GET /listeners/{port}/cert` hands out so clients can trust it.
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    pub cert_pem: String,
}

impl ServerTls {
    /// From a PEM certificate chain and its PEM private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ServerTls, TlsError> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(TlsError::CertPem)?;
        if certs.is_empty() {
            return Err(TlsError::NoCert);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
            pem::Error::NoItemsFound => TlsError::NoKey,
            e => TlsError::KeyPem(e),
        })?;
        Self::build(certs, key, cert_pem.to_string())
    }

    /// A self-signed certificate for `localhost`, the loopback addresses and
    /// this host's name and IP.
    pub fn self_signed(host: &HostInfo) -> Result<ServerTls, TlsError> {
        let mut names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        for n in [&host.name, &host.ip] {
            if !n.is_empty() && !names.contains(n) {
                names.push(n.clone());
            }
        }
        let ck = rcgen::generate_simple_self_signed(names).map_err(TlsError::Generate)?;
        let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der())
            .map_err(TlsError::GeneratedKey)?;
        let pem = ck.cert.pem();
        Self::build(vec![ck.cert.der().clone()], key, pem)
    }

    fn build(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_pem: String,
    ) -> Result<ServerTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(TlsError::Identity)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_pem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_are_reasons() {
        let err =
            |r: Result<ServerTls, TlsError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(ServerTls::from_pem("", "")).contains("no certificate"));
        let ck = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let cert = ck.cert.pem();
        assert!(err(ServerTls::from_pem(&cert, "junk")).contains("key"));
        assert!(ServerTls::from_pem(&cert, &ck.signing_key.serialize_pem()).is_ok());
    }
}
