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

/// The subject DN of a DER certificate, as RFC 4514 text: RDNs last-first, values
/// escaped, so that no two different subjects render alike.
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut rdns: Vec<String> = cert
        .subject()
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    match (short_name(&oid), atv.as_str()) {
                        (Some(name), Ok(value)) => format!("{name}={}", escape_value(value)),
                        // Unknown types and non-string values: dotted OID and hex DER.
                        _ => format!(
                            "{oid}=#{}",
                            atv.as_slice()
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect::<String>()
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    Some(rdns.join(","))
}

/// RFC 4514 §3 short names.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => return None,
    })
}

/// RFC 4514 §2.4 escaping of an attribute value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
        } else {
            if special {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(dn: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in dn {
            params.distinguished_name.push(t.clone(), *v);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn subjects_render_as_escaped_rfc4514_text() {
        use rcgen::DnType::{CommonName, OrganizationName};
        let plain = subject_dn(&cert_with(&[
            (CommonName, "acme"),
            (OrganizationName, "Acme Ltd"),
        ]))
        .unwrap();
        assert_eq!(plain, "O=Acme Ltd,CN=acme");
        // A single CN crafted to look like two attributes must not render the same.
        let crafted = subject_dn(&cert_with(&[
            (OrganizationName, "Acme Ltd"),
            (CommonName, "acme,O=Acme Ltd"),
        ]))
        .unwrap();
        assert_eq!(crafted, "CN=acme\\,O=Acme Ltd,O=Acme Ltd");
        assert_ne!(crafted, plain);
        let spaced = subject_dn(&cert_with(&[(CommonName, " #x+y; ")])).unwrap();
        assert_eq!(spaced, "CN=\\ #x\\+y\\;\\ ");
    }

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
