//! The immutable view of partner state the data plane serves from.
//!
//! The gateway and the authorization server never query the store per request. They read
//! the current [`Snapshot`] through a [`SharedSnapshot`], which the control plane replaces
//! atomically whenever state changes; a request in flight keeps the snapshot it started with.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use portcullis_field_filter::CompiledFieldPolicy;
use portcullis_policy::NetworkList;

use crate::clock::UnixSeconds;
use crate::jose::{JwsSigner, VerifyingKey};
use crate::{Client, CredentialStatus, Environment, Grant, Partner, SigningKeyStatus, StateDump};

pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

#[derive(Debug)]
pub struct ClientEntry {
    pub client: Client,
    /// Parsed once at snapshot build, from the client's registered JWK set.
    pub keys: Vec<VerifyingKey>,
}

/// The keys of one environment's issuer.
#[derive(Debug, Default)]
pub struct IssuerKeys {
    /// Every key whose tokens are still accepted, by `kid`.
    pub verifying: HashMap<String, VerifyingKey>,
    /// The newest active key, which signs new tokens.
    pub signer: Option<Arc<JwsSigner>>,
}

/// Why a client may not act right now. The text is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientDenied {
    #[error("unknown client")]
    UnknownClient,
    #[error("the client is registered in another environment")]
    WrongEnvironment,
    #[error("the credential has been revoked")]
    Revoked,
    #[error("the credential is suspended")]
    Suspended,
    #[error("the credential has expired")]
    Expired,
    #[error("the partner is not active")]
    PartnerInactive,
}

impl ClientDenied {
    pub fn reason(&self) -> &'static str {
        match self {
            ClientDenied::UnknownClient => "unknown_client",
            ClientDenied::WrongEnvironment => "wrong_environment",
            ClientDenied::Revoked => "credential_revoked",
            ClientDenied::Suspended => "credential_suspended",
            ClientDenied::Expired => "credential_expired",
            ClientDenied::PartnerInactive => "partner_inactive",
        }
    }
}

/// A grant with its policy compiled once, at snapshot build.
#[derive(Debug)]
pub struct GrantEntry {
    pub grant: Grant,
    pub allowed_sources: NetworkList,
    /// By operation id; an operation without an entry returns no fields at all.
    pub fields: HashMap<String, Arc<CompiledFieldPolicy>>,
}

impl GrantEntry {
    fn compile(grant: Grant) -> Result<Self, String> {
        let compiled = grant
            .policy
            .compile("policy")
            .map_err(|problems| problems.join("; "))?;
        Ok(Self {
            grant,
            allowed_sources: compiled.allowed_sources,
            fields: compiled.fields,
        })
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.grant.scopes.iter().any(|s| s == scope)
    }

    /// Whether `addr` may call for this grant: anywhere when no allowlist is set.
    pub fn source_allowed(&self, addr: std::net::IpAddr) -> bool {
        self.allowed_sources.is_empty() || self.allowed_sources.contains(addr)
    }
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub revision: i64,
    partners: HashMap<String, Partner>,
    clients: HashMap<String, ClientEntry>,
    /// By environment, then partner, so a lookup borrows the partner id.
    grants: HashMap<Environment, HashMap<String, GrantEntry>>,
    issuers: HashMap<Environment, IssuerKeys>,
    revoked_jtis: HashSet<String>,
}

impl Snapshot {
    /// Builds a snapshot. Entries that cannot be used (an unparsable JWK set, a corrupt
    /// signing key) are left out and described in the returned problems, so one bad row
    /// never takes the gateway down.
    pub fn build(dump: StateDump) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let partners = dump
            .partners
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut clients = HashMap::new();
        for client in dump.clients {
            let keys = match &client.jwks {
                Some(jwks) => match VerifyingKey::set_from_jwks(jwks) {
                    Ok(keys) => keys,
                    Err(e) => {
                        problems.push(format!("client {}: {e}; client left out", client.client_id));
                        continue;
                    }
                },
                None => Vec::new(),
            };
            clients.insert(client.client_id.clone(), ClientEntry { client, keys });
        }
        let mut grants: HashMap<Environment, HashMap<String, GrantEntry>> = HashMap::new();
        for grant in dump.grants {
            let key = (grant.partner_id.clone(), grant.environment);
            match GrantEntry::compile(grant) {
                Ok(entry) => {
                    grants.entry(key.1).or_default().insert(key.0, entry);
                }
                // Left out, the grant allows nothing: the safe reading of a policy that
                // cannot be read.
                Err(e) => problems.push(format!("grant {}/{}: {e}; grant left out", key.0, key.1)),
            }
        }
        let mut issuers: HashMap<Environment, IssuerKeys> = HashMap::new();
        for key in dump.signing_keys {
            if key.status == SigningKeyStatus::Retired {
                continue;
            }
            let signer = match JwsSigner::from_pkcs8(
                key.kid.clone(),
                key.algorithm.into(),
                key.private_pkcs8.expose(),
            ) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("signing key {}: {e}; key left out", key.kid));
                    continue;
                }
            };
            let entry = issuers.entry(key.environment).or_default();
            entry
                .verifying
                .insert(key.kid.clone(), signer.verifying_key());
            // Keys arrive oldest first, so the last active one is the newest.
            if key.status == SigningKeyStatus::Active {
                entry.signer = Some(Arc::new(signer));
            }
        }
        let revoked_jtis = dump.revoked_tokens.into_iter().map(|r| r.jti).collect();
        let snapshot = Self {
            revision: dump.revision,
            partners,
            clients,
            grants,
            issuers,
            revoked_jtis,
        };
        (snapshot, problems)
    }

    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partners.get(id)
    }

    pub fn client(&self, client_id: &str) -> Option<&ClientEntry> {
        self.clients.get(client_id)
    }

    pub fn grant(&self, partner_id: &str, environment: Environment) -> Option<&Grant> {
        self.grant_entry(partner_id, environment).map(|e| &e.grant)
    }

    pub fn grant_entry(&self, partner_id: &str, environment: Environment) -> Option<&GrantEntry> {
        self.grants.get(&environment)?.get(partner_id)
    }

    pub fn issuer(&self, environment: Environment) -> Option<&IssuerKeys> {
        self.issuers.get(&environment)
    }

    pub fn is_token_revoked(&self, jti: &str) -> bool {
        self.revoked_jtis.contains(jti)
    }

    /// The client, if it may act in `environment` at `now`: known, in that environment,
    /// not revoked or expired, and its partner active.
    pub fn usable_client(
        &self,
        client_id: &str,
        environment: Environment,
        now: UnixSeconds,
    ) -> Result<&ClientEntry, ClientDenied> {
        let entry = self
            .clients
            .get(client_id)
            .ok_or(ClientDenied::UnknownClient)?;
        let client = &entry.client;
        if client.environment != environment {
            return Err(ClientDenied::WrongEnvironment);
        }
        match client.status {
            CredentialStatus::Active => {}
            CredentialStatus::Suspended => return Err(ClientDenied::Suspended),
            CredentialStatus::Revoked => return Err(ClientDenied::Revoked),
        }
        if client.expires_at.is_some_and(|exp| exp <= now) {
            return Err(ClientDenied::Expired);
        }
        match self.partners.get(&client.partner_id) {
            Some(p) if p.status.allows(environment) => Ok(entry),
            _ => Err(ClientDenied::PartnerInactive),
        }
    }
}

pub fn shared(snapshot: Snapshot) -> SharedSnapshot {
    Arc::new(ArcSwap::from_pointee(snapshot))
}
