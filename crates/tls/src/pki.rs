//! A development PKI: a CA, a server certificate for 127.0.0.1/localhost, and partner
//! client certificates. For the demo and tests only; production uses the operator's PKI.
//!
//! Files are reused when present, so a demo restarted on the same directory keeps its
//! partners' certificates valid.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::identity::subject_dn;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A client certificate issued to a partner.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// What the partner's client registration names for `tls_client_auth`.
    pub subject_dn: String,
}

pub struct DevPki {
    pub dir: PathBuf,
    pub ca_file: PathBuf,
    pub server_cert_file: PathBuf,
    pub server_key_file: PathBuf,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl std::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

impl DevPki {
    /// Loads the PKI in `dir`, creating whatever is missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let ca_file = dir.join("ca.pem");
        let ca_key_file = dir.join("ca.key");
        let (ca_params, ca_key) = if ca_file.exists() && ca_key_file.exists() {
            let key_pem = fs::read_to_string(&ca_key_file).map_err(io_err(&ca_key_file))?;
            let ca_key = KeyPair::from_pem(&key_pem)?;
            let cert_pem = fs::read_to_string(&ca_file).map_err(io_err(&ca_file))?;
            (CertificateParams::from_ca_cert_pem(&cert_pem)?, ca_key)
        } else {
            let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name = dn("Portcullis Development CA", "Portcullis Demo");
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            validity(&mut params, 825);
            let cert = params.clone().self_signed(&ca_key)?;
            write_file(&ca_file, cert.pem().as_bytes(), 0o644)?;
            write_file(&ca_key_file, ca_key.serialize_pem().as_bytes(), 0o600)?;
            (params, ca_key)
        };
        let mut pki = Self {
            dir: dir.to_path_buf(),
            ca_file,
            server_cert_file: dir.join("server.pem"),
            server_key_file: dir.join("server.key"),
            ca_params,
            ca_key,
        };
        if !(pki.server_cert_file.exists() && pki.server_key_file.exists()) {
            let mut params =
                CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
            params.distinguished_name = dn("localhost", "Portcullis Demo");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let (cert, key) = (pki.server_cert_file.clone(), pki.server_key_file.clone());
            pki.issue(params, &cert, &key)?;
        }
        Ok(pki)
    }

    fn issue(
        &mut self,
        mut params: CertificateParams,
        cert_file: &Path,
        key_file: &Path,
    ) -> Result<(), PkiError> {
        validity(&mut params, 397);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let issuer = self.ca_params.clone().self_signed(&self.ca_key)?;
        let cert = params.signed_by(&key, &issuer, &self.ca_key)?;
        write_file(cert_file, cert.pem().as_bytes(), 0o644)?;
        write_file(key_file, key.serialize_pem().as_bytes(), 0o600)?;
        Ok(())
    }

    /// A client certificate for `name` (file stem and CN) of organisation `org`; reused
    /// when already issued.
    pub fn client_cert(&mut self, name: &str, org: &str) -> Result<IssuedCert, PkiError> {
        let cert_file = self.dir.join(format!("{name}.pem"));
        let key_file = self.dir.join(format!("{name}.key"));
        if !(cert_file.exists() && key_file.exists()) {
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name = dn(name, org);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            self.issue(params, &cert_file, &key_file)?;
        }
        let der = CertificateDer::from_pem_file(&cert_file)
            .map_err(|e| PkiError::Invalid(format!("{}: {e}", cert_file.display())))?;
        let subject_dn = subject_dn(der.as_ref()).ok_or_else(|| {
            PkiError::Invalid(format!("{}: unreadable subject", cert_file.display()))
        })?;
        Ok(IssuedCert {
            cert_file,
            key_file,
            subject_dn,
        })
    }
}

fn dn(common_name: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, org);
    dn
}

/// Writes a PKCS#8 private key as PEM with owner-only permissions.
pub fn write_private_key_pem(path: &Path, pkcs8_der: &[u8]) -> Result<(), PkiError> {
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    let encoded = STANDARD.encode(pkcs8_der);
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    write_file(path, pem.as_bytes(), 0o600)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(contents).map_err(io_err(path))
}
