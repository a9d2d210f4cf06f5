//! Compact JWS and JWK handling on top of `ring`.
//!
//! Written here rather than taken from a JWT crate because the gateway needs three things
//! those crates make awkward: the algorithm is taken from the *key*, never from the token
//! header (so `alg: none` and HS256-with-a-public-key confusion cannot arise); the header's
//! `typ` and `crit` are checked strictly; and parsing is cheap on the hot path.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Tokens longer than this are refused before any decoding work.
pub const MAX_JWS_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    #[error("JWS is larger than {MAX_JWS_BYTES} bytes")]
    TooLarge,
    #[error("algorithm {0:?} is not allowed for this key")]
    AlgorithmMismatch(String),
    #[error("JWS header lists critical extensions, none of which are supported")]
    UnsupportedCritical,
    #[error("signature verification failed")]
    BadSignature,
    #[error("unsupported or invalid JWK: {0}")]
    InvalidJwk(&'static str),
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(&'static str),
    #[error("signing failed")]
    SigningFailed,
}

/// The JWS algorithms Portcullis accepts (RFC 8725: explicit allowlist; no `none`, no HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    EdDSA,
    ES256,
    PS256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::PS256 => "PS256",
        }
    }
}

impl From<crate::SigningAlgorithm> for Algorithm {
    fn from(a: crate::SigningAlgorithm) -> Self {
        match a {
            crate::SigningAlgorithm::EdDSA => Algorithm::EdDSA,
            crate::SigningAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

/// The JOSE header fields Portcullis reads. Deserializing into a struct makes serde reject
/// duplicate members, which JSON allows but which invite parser-differential attacks.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub crit: Option<Value>,
}

/// A JWS split and decoded but not yet verified.
#[derive(Debug)]
pub struct UnverifiedJws<'a> {
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> UnverifiedJws<'a> {
    /// Splits and decodes a compact JWS. Nothing here is trusted until [`Self::verify`].
    pub fn parse(token: &'a str) -> Result<Self, JoseError> {
        if token.len() > MAX_JWS_BYTES {
            return Err(JoseError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed("expected three dot-separated parts"));
        };
        if h.is_empty() || p.is_empty() || s.is_empty() {
            return Err(JoseError::Malformed("empty part"));
        }
        let header_bytes = b64_decode(h)?;
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|_| JoseError::Malformed("header is not a JSON object with a string alg"))?;
        if header.crit.is_some() {
            return Err(JoseError::UnsupportedCritical);
        }
        let payload = b64_decode(p)?;
        let signature = b64_decode(s)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        Ok(Self {
            header,
            signing_input,
            payload,
            signature,
        })
    }

    /// The payload before verification: only for choosing which key must verify it.
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Verifies the signature with `key`. The header's `alg` must name the key's own
    /// algorithm; the header never chooses how verification happens.
    pub fn verify(self, key: &VerifyingKey) -> Result<Vec<u8>, JoseError> {
        if self.header.alg != key.algorithm.as_str() {
            return Err(JoseError::AlgorithmMismatch(self.header.alg));
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)?;
        Ok(self.payload)
    }
}

fn b64_decode(part: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JoseError::Malformed("part is not unpadded base64url"))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKeyBytes {
    Ed25519(Vec<u8>),
    /// Uncompressed SEC1 point, 0x04 || x || y.
    P256(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

/// A public key with its one permitted algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    key: PublicKeyBytes,
}

impl VerifyingKey {
    /// Reads a public JWK (RFC 7517/8037). Private members are refused so that a private key
    /// is never registered where a public one belongs.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let obj = jwk
            .as_object()
            .ok_or(JoseError::InvalidJwk("not a JSON object"))?;
        if obj.contains_key("d") || obj.contains_key("p") || obj.contains_key("k") {
            return Err(JoseError::InvalidJwk(
                "contains private or symmetric key material",
            ));
        }
        let text = |name: &'static str| obj.get(name).and_then(Value::as_str);
        let member = |name: &'static str| -> Result<Vec<u8>, JoseError> {
            let v = text(name).ok_or(JoseError::InvalidJwk("missing key member"))?;
            URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|_| JoseError::InvalidJwk("key member is not base64url"))
        };
        let (algorithm, key) = match (text("kty"), text("crv")) {
            (Some("OKP"), Some("Ed25519")) => {
                let x = member("x")?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidJwk("Ed25519 x must be 32 bytes"));
                }
                (Algorithm::EdDSA, PublicKeyBytes::Ed25519(x))
            }
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (member("x")?, member("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidJwk("P-256 x and y must be 32 bytes"));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (Algorithm::ES256, PublicKeyBytes::P256(point))
            }
            (Some("RSA"), _) => {
                let (n, e) = (member("n")?, member("e")?);
                if n.len() < 256 {
                    return Err(JoseError::InvalidJwk(
                        "RSA modulus must be at least 2048 bits",
                    ));
                }
                (Algorithm::PS256, PublicKeyBytes::Rsa { n, e })
            }
            _ => {
                return Err(JoseError::InvalidJwk(
                    "kty/crv must be OKP/Ed25519, EC/P-256 or RSA",
                ))
            }
        };
        if let Some(alg) = text("alg") {
            if alg != algorithm.as_str() {
                return Err(JoseError::InvalidJwk("alg does not match the key type"));
            }
        }
        if let Some(usage) = text("use") {
            if usage != "sig" {
                return Err(JoseError::InvalidJwk("use must be sig"));
            }
        }
        Ok(Self {
            kid: text("kid").map(str::to_string),
            algorithm,
            key,
        })
    }

    /// Reads every usable key of a JWK set, failing on the first invalid one.
    pub fn set_from_jwks(jwks: &Value) -> Result<Vec<Self>, JoseError> {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JoseError::InvalidJwk("JWK set has no keys array"))?;
        if keys.is_empty() {
            return Err(JoseError::InvalidJwk("JWK set is empty"));
        }
        keys.iter().map(Self::from_jwk).collect()
    }

    pub fn to_jwk(&self) -> Value {
        let mut jwk = match &self.key {
            PublicKeyBytes::Ed25519(x) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)}),
            PublicKeyBytes::P256(p) => {
                json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])})
            }
            PublicKeyBytes::Rsa { n, e } => json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        jwk["alg"] = json!(self.algorithm.as_str());
        jwk["use"] = json!("sig");
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    /// The RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic
    /// order. Used as `kid`, so a client and its registration agree without coordination.
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.key {
            PublicKeyBytes::Ed25519(x) => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x))
            }
            PublicKeyBytes::P256(p) => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(&p[1..33]),
                b64(&p[33..65])
            ),
            PublicKeyBytes::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n))
            }
        };
        sha256_b64(canonical.as_bytes())
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let result = match &self.key {
            PublicKeyBytes::Ed25519(x) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig)
            }
            PublicKeyBytes::P256(p) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p)
                    .verify(message, sig)
            }
            PublicKeyBytes::Rsa { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PSS_2048_8192_SHA256,
                message,
                sig,
            ),
        };
        result.map_err(|_| JoseError::BadSignature)
    }
}

enum PrivateKey {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

/// A private key that signs JWTs with its one algorithm.
pub struct JwsSigner {
    kid: String,
    algorithm: Algorithm,
    key: PrivateKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// Generates a new key and returns it with its PKCS#8 DER encoding for storage.
    pub fn generate(kid: String, algorithm: Algorithm) -> Result<(Self, Vec<u8>), JoseError> {
        let rng = SystemRandom::new();
        let pkcs8 = match algorithm {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng),
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            Algorithm::PS256 => {
                return Err(JoseError::InvalidPrivateKey(
                    "PS256 signing keys are not generated",
                ))
            }
        }
        .map_err(|_| JoseError::SigningFailed)?;
        let der = pkcs8.as_ref().to_vec();
        Ok((Self::from_pkcs8(kid, algorithm, &der)?, der))
    }

    pub fn from_pkcs8(kid: String, algorithm: Algorithm, der: &[u8]) -> Result<Self, JoseError> {
        let rng = SystemRandom::new();
        let key = match algorithm {
            Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(PrivateKey::Ed25519)
                .map_err(|_| JoseError::InvalidPrivateKey("not an Ed25519 PKCS#8 key"))?,
            Algorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map(PrivateKey::P256)
                    .map_err(|_| JoseError::InvalidPrivateKey("not a P-256 PKCS#8 key"))?
            }
            Algorithm::PS256 => {
                return Err(JoseError::InvalidPrivateKey(
                    "PS256 signing is not supported",
                ))
            }
        };
        Ok(Self {
            kid,
            algorithm,
            key,
            rng,
        })
    }

    /// Reads a PKCS#8 key of either supported kind, trying Ed25519 then P-256.
    pub fn from_pkcs8_any(kid: String, der: &[u8]) -> Result<Self, JoseError> {
        Self::from_pkcs8(kid.clone(), Algorithm::EdDSA, der)
            .or_else(|_| Self::from_pkcs8(kid, Algorithm::ES256, der))
            .map_err(|_| JoseError::InvalidPrivateKey("expected an Ed25519 or P-256 PKCS#8 key"))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        let key = match &self.key {
            PrivateKey::Ed25519(k) => PublicKeyBytes::Ed25519(k.public_key().as_ref().to_vec()),
            PrivateKey::P256(k) => PublicKeyBytes::P256(k.public_key().as_ref().to_vec()),
        };
        VerifyingKey {
            kid: Some(self.kid.clone()),
            algorithm: self.algorithm,
            key,
        }
    }

    /// Signs `claims` as a compact JWS with the given `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let payload = serde_json::to_vec(claims).map_err(|_| JoseError::SigningFailed)?;
        self.sign_payload(typ, &payload)
    }

    /// Signs an already-serialized payload.
    pub fn sign_payload(&self, typ: &str, payload: &[u8]) -> Result<String, JoseError> {
        let header = json!({"alg": self.algorithm.as_str(), "typ": typ, "kid": self.kid});
        let header = serde_json::to_vec(&header).map_err(|_| JoseError::SigningFailed)?;
        let mut out = String::with_capacity(header.len() * 2 + payload.len() * 2 + 128);
        out.push_str(&b64(&header));
        out.push('.');
        out.push_str(&b64(payload));
        let sig = match &self.key {
            PrivateKey::Ed25519(k) => k.sign(out.as_bytes()).as_ref().to_vec(),
            PrivateKey::P256(k) => k
                .sign(&self.rng, out.as_bytes())
                .map_err(|_| JoseError::SigningFailed)?
                .as_ref()
                .to_vec(),
        };
        out.push('.');
        out.push_str(&b64(&sig));
        Ok(out)
    }
}

/// SHA-256 of `bytes`, base64url: the form of `x5t#S256` (RFC 8705) and `jkt`.
pub fn sha256_b64(bytes: &[u8]) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests;
