//! A throwaway PKI for TLS tests: a CA and a server certificate for
//! `goto.test` signed by it, generated fresh per call (rcgen).

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA (PEM, to trust) and a leaf certificate with its key (DER, to serve).
pub struct Pki {
    pub ca_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// A CA and a server certificate for `goto.test`, signed by it. Panics on
/// failure: test support only.
pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["goto.test".to_string()]).expect("leaf params");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf");
    Pki {
        ca_pem: ca_cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}
