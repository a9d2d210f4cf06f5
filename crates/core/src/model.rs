//! The domain model shared by the store, the authorization server, the gateway and the
//! control plane.

use portcullis_field_filter::{CompiledFieldPolicy, FieldPolicy};
use portcullis_policy::{NetworkList, Quota, RateLimit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::clock::UnixSeconds;
use crate::secret::Secret;

/// Production and sandbox are separate worlds: separate issuers, signing keys, listeners and
/// credentials. A token from one is never accepted by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Sandbox,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Production, Environment::Sandbox];
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing one of the model's enums from text (a stored value or user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: unknown value {value:?}; expected one of {expected}")]
pub struct UnknownValue {
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! text_enum {
    ($ty:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    other => Err(UnknownValue {
                        field: $field,
                        value: other.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

text_enum!(Environment, "environment", { Production => "production", Sandbox => "sandbox" });

/// Where a partner stands in onboarding. Each forward step needs its evidence and a second
/// person's approval; see the control plane's `lifecycle` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    Proposed,
    DueDiligence,
    Sandbox,
    SecurityAssessment,
    Production,
    Suspended,
    Offboarded,
}
text_enum!(PartnerStatus, "partner status", {
    Proposed => "proposed", DueDiligence => "due_diligence", Sandbox => "sandbox",
    SecurityAssessment => "security_assessment", Production => "production",
    Suspended => "suspended", Offboarded => "offboarded",
});

impl PartnerStatus {
    /// Whether a partner in this state may call `environment`: the sandbox from the sandbox
    /// phase on (it keeps testing there in production), production only in production.
    pub fn allows(self, environment: Environment) -> bool {
        match environment {
            Environment::Sandbox => matches!(
                self,
                PartnerStatus::Sandbox
                    | PartnerStatus::SecurityAssessment
                    | PartnerStatus::Production
            ),
            Environment::Production => self == PartnerStatus::Production,
        }
    }
}

/// How closely a partner is watched: sets how often its access is reviewed.
/// Ordered low to high: lowering a partner's tier (fewer reviews) is a loosening.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    Low,
    #[default]
    Medium,
    High,
}
text_enum!(RiskTier, "risk_tier", { Low => "low", Medium => "medium", High => "high" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub status: PartnerStatus,
    #[serde(default)]
    pub risk_tier: RiskTier,
    pub created_at: UnixSeconds,
}

/// How a client authenticates at the token endpoint. There is deliberately no shared-secret
/// method: production credentials are asymmetric keys or certificates only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// RFC 7523 client assertion signed by a key the client registered as a JWK set.
    PrivateKeyJwt,
    /// RFC 8705 PKI mutual TLS: a certificate chaining to the configured CA with the
    /// registered subject DN.
    TlsClientAuth,
}
text_enum!(ClientAuthMethod, "auth_method", {
    PrivateKeyJwt => "private_key_jwt", TlsClientAuth => "tls_client_auth",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    /// Held by an automated response (or an operator) pending investigation; reinstated
    /// by an operator, unlike a revocation.
    Suspended,
    Revoked,
}
text_enum!(CredentialStatus, "credential status", { Active => "active", Suspended => "suspended", Revoked => "revoked" });

/// An OAuth client: one credential of one partner in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub partner_id: String,
    pub environment: Environment,
    pub auth_method: ClientAuthMethod,
    /// Public JWK set for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// Registered certificate subject DN for `tls_client_auth`, in RFC 4514 form.
    pub tls_subject_dn: Option<String>,
    pub status: CredentialStatus,
    pub created_at: UnixSeconds,
    /// After this instant the credential is refused; `None` means no expiry (sandbox only).
    pub expires_at: Option<UnixSeconds>,
    /// When it last obtained a token (recorded in batches, up to one governance sweep
    /// late); dormant credentials are revoked from this.
    #[serde(default)]
    pub last_used_at: Option<UnixSeconds>,
}

/// What a partner may do in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub partner_id: String,
    pub environment: Environment,
    pub scopes: Vec<String>,
    /// Why the partner needs each scope (required for production grants).
    #[serde(default)]
    pub justifications: BTreeMap<String, String>,
    #[serde(default)]
    pub policy: GrantPolicy,
}

/// The traffic and data rules of a grant. Every part defaults to the safe side: no field
/// policy for an operation means no field of its responses passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantPolicy {
    /// For each credential of the partner; the gateway's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// For all the partner's credentials in this environment together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Quota::is_unlimited")]
    pub quota: Quota,
    /// CIDRs (IPv4 and IPv6) the partner may call from; empty means from anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_sources: Vec<String>,
    /// Response fields each operation (by id) may return.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldPolicy>,
    /// The grant is in force from this instant (Unix seconds) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<UnixSeconds>,
    /// ... until this one; outside the window the partner has no access in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<UnixSeconds>,
}

impl GrantPolicy {
    /// Whether the grant's validity window covers `now`.
    pub fn in_force(&self, now: UnixSeconds) -> bool {
        self.valid_from.is_none_or(|from| now >= from)
            && self.valid_until.is_none_or(|until| now < until)
    }
}

impl Grant {
    /// What an audit entry about a change to this grant records: whose, where, the scopes
    /// and the whole policy (not a digest), so an auditor can tell from the log alone which
    /// fields a partner could see on any day.
    pub fn audit_target(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("partner_id".to_string(), self.partner_id.clone()),
            (
                "environment".to_string(),
                self.environment.as_str().to_string(),
            ),
            ("scopes".to_string(), self.scopes.join(" ")),
            (
                "policy".to_string(),
                serde_json::to_string(&self.policy).unwrap_or_default(),
            ),
        ])
    }
}

/// The parts of a grant policy that the data plane uses compiled.
#[derive(Debug)]
pub struct CompiledGrantPolicy {
    pub allowed_sources: NetworkList,
    /// By operation id.
    pub fields: std::collections::HashMap<String, std::sync::Arc<CompiledFieldPolicy>>,
}

impl GrantPolicy {
    /// Every problem, each naming its place under `field` (e.g. `policy`) and the fix.
    pub fn problems(&self, field: &str) -> Vec<String> {
        self.compile(field).err().unwrap_or_default()
    }

    /// Checks the policy and compiles what the data plane needs, in one pass; on failure,
    /// every problem, each naming its place under `field` and the fix.
    pub fn compile(&self, field: &str) -> Result<CompiledGrantPolicy, Vec<String>> {
        let mut problems = Vec::new();
        for (name, limit) in [
            ("rate_limit", &self.rate_limit),
            ("partner_rate_limit", &self.partner_rate_limit),
        ] {
            if let Some(Err(e)) = limit.map(|l| l.validate()) {
                problems.push(format!("{field}.{name}: {e}"));
            }
        }
        if let Err(e) = self.quota.validate() {
            problems.push(format!("{field}.quota: {e}"));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until <= from {
                problems.push(format!(
                    "{field}.valid_until: {until} is not after valid_from {from}; the window would be empty"
                ));
            }
        }
        let allowed_sources =
            NetworkList::parse(&format!("{field}.allowed_sources"), &self.allowed_sources)
                .map_err(|e| problems.push(e))
                .unwrap_or_default();
        let mut fields = std::collections::HashMap::new();
        for (operation, policy) in &self.fields {
            match CompiledFieldPolicy::compile(policy) {
                Ok(compiled) => {
                    fields.insert(operation.clone(), std::sync::Arc::new(compiled));
                }
                Err(e) => problems.push(format!("{field}.fields.{operation}.{e}")),
            }
        }
        if problems.is_empty() {
            Ok(CompiledGrantPolicy {
                allowed_sources,
                fields,
            })
        } else {
            Err(problems)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    EdDSA,
    ES256,
}
text_enum!(SigningAlgorithm, "algorithm", { EdDSA => "EdDSA", ES256 => "ES256" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningKeyStatus {
    /// Signs new tokens and verifies.
    Active,
    /// Only verifies tokens signed before a rotation, until they have all expired.
    VerifyOnly,
    Retired,
}
text_enum!(SigningKeyStatus, "signing key status", {
    Active => "active", VerifyOnly => "verify_only", Retired => "retired",
});

/// A token-signing key of one environment's issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub environment: Environment,
    pub algorithm: SigningAlgorithm,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8: Secret<Vec<u8>>,
    pub status: SigningKeyStatus,
    pub created_at: UnixSeconds,
}

/// An access token revoked before its expiry (RFC 7009). Kept until `expires_at`, after
/// which the token is refused for expiry anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    pub jti: String,
    pub client_id: String,
    pub expires_at: UnixSeconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    Viewer,
    Auditor,
    Operator,
    Approver,
    Admin,
}
text_enum!(AdminRole, "role", {
    Viewer => "viewer", Auditor => "auditor", Operator => "operator",
    Approver => "approver", Admin => "admin",
});

/// An administrator's API token. Only the SHA-256 of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    pub role: AdminRole,
    pub token_sha256: String,
    pub created_at: UnixSeconds,
}

/// Everything the data plane needs, as loaded from the store in one read.
#[derive(Debug, Clone, Default)]
pub struct StateDump {
    /// Monotonic counter bumped by every change; lets nodes notice changes cheaply.
    pub revision: i64,
    pub partners: Vec<Partner>,
    pub clients: Vec<Client>,
    pub grants: Vec<Grant>,
    pub signing_keys: Vec<SigningKey>,
    pub revoked_tokens: Vec<RevokedToken>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_text() {
        for e in Environment::ALL {
            assert_eq!(e.as_str().parse::<Environment>(), Ok(e));
        }
        let err = "staging".parse::<Environment>().unwrap_err();
        assert!(err.to_string().contains("production sandbox"), "{err}");
        assert_eq!(
            "tls_client_auth".parse(),
            Ok(ClientAuthMethod::TlsClientAuth)
        );
        assert_eq!("ES256".parse(), Ok(SigningAlgorithm::ES256));
    }
}
