//! What a verified client certificate says about its holder.

use portcullis_core::jose::sha256_b64;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The identity of a TLS peer whose certificate chain rustls has already verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// `x5t#S256`: base64url SHA-256 of the leaf certificate DER (RFC 8705 §3.1).
    pub thumbprint: String,
    /// Subject distinguished name in RFC 4514 string form.
    pub subject_dn: String,
}

impl PeerIdentity {
    /// Reads the leaf certificate. `None` when it cannot be parsed, which after rustls has
    /// verified it only happens for exotic encodings; such a peer simply has no identity.
    pub fn from_leaf(cert: &CertificateDer<'_>) -> Option<Self> {
        let subject_dn = subject_dn(cert.as_ref())?;
        Some(Self {
            thumbprint: sha256_b64(cert.as_ref()),
            subject_dn,
        })
    }
}

/// The subject DN of a DER certificate, as RFC 4514 text.
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    x509_parser::x509::X509Name::to_string_with_registry(
        cert.subject(),
        x509_parser::objects::oid_registry(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_certificates_have_no_identity() {
        for bytes in [&b""[..], b"\x30\x03\x02\x01\x01", &[0xff; 64]] {
            assert_eq!(
                PeerIdentity::from_leaf(&CertificateDer::from(bytes.to_vec())),
                None
            );
        }
    }
}
