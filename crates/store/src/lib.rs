//! Storage for Portcullis: narrow traits per aggregate, and one SQL backend that runs on
//! embedded SQLite (the default, a file in the data directory) or on PostgreSQL (clusters).
//!
//! The data plane never queries the store per request: it loads a [`StateDump`] into an
//! immutable snapshot and reloads it when [`RevisionStore::revision`] moves.
#![forbid(unsafe_code)]

mod loader;
mod sql;

use async_trait::async_trait;
use portcullis_core::clock::UnixSeconds;
use portcullis_core::governance::{Approval, ApprovalStatus, Review, ReviewStatus, StoredDocument};
use portcullis_core::{
    AdminToken, Client, CredentialStatus, Environment, Grant, Partner, PartnerStatus, RevokedToken,
    RiskTier, SigningKey, SigningKeyStatus, StateDump,
};

pub use loader::SnapshotLoader;
pub use sql::SqlStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id:?} already exists")]
    Conflict { kind: &'static str, id: String },
    #[error("stored {field} is invalid: {detail}")]
    Corrupt { field: &'static str, detail: String },
    #[error("store unavailable: {0}")]
    Backend(#[from] sqlx::Error),
    #[error("unsupported store url {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait PartnerStore: Send + Sync {
    async fn create_partner(&self, partner: &Partner) -> StoreResult<()>;
    async fn get_partner(&self, id: &str) -> StoreResult<Partner>;
    async fn list_partners(&self) -> StoreResult<Vec<Partner>>;
    async fn set_partner_status(&self, id: &str, status: PartnerStatus) -> StoreResult<()>;
    /// Moves the partner from `from` to `to`; false (nothing changed) when it was no longer
    /// in `from`: two changes raced, and the other won.
    async fn move_partner(
        &self,
        id: &str,
        from: PartnerStatus,
        to: PartnerStatus,
    ) -> StoreResult<bool>;
    async fn set_partner_risk_tier(&self, id: &str, tier: RiskTier) -> StoreResult<()>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, client_id: &str) -> StoreResult<Client>;
    async fn list_clients(&self, partner_id: Option<&str>) -> StoreResult<Vec<Client>>;
    async fn set_client_status(&self, client_id: &str, status: CredentialStatus)
        -> StoreResult<()>;
    /// Brings a credential's expiry forward (rotation's overlap window).
    async fn set_client_expiry(&self, client_id: &str, expires_at: UnixSeconds) -> StoreResult<()>;
    /// Records when credentials last obtained a token; never moves a time backwards.
    async fn record_client_use(&self, uses: &[(String, UnixSeconds)]) -> StoreResult<()>;
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Creates or replaces the grant of a partner in an environment.
    async fn put_grant(&self, grant: &Grant) -> StoreResult<()>;
    async fn get_grant(&self, partner_id: &str, environment: Environment) -> StoreResult<Grant>;
    async fn list_grants(&self, partner_id: Option<&str>) -> StoreResult<Vec<Grant>>;
    /// Removes a grant; false when there was none.
    async fn delete_grant(&self, partner_id: &str, environment: Environment) -> StoreResult<bool>;
}

/// Onboarding evidence, approvals and access reviews.
#[async_trait]
pub trait GovernanceStore: Send + Sync {
    /// Creates or replaces the partner's document of `document.kind`.
    async fn put_document(&self, document: &StoredDocument) -> StoreResult<()>;
    async fn get_document(
        &self,
        partner_id: &str,
        kind: &str,
    ) -> StoreResult<Option<StoredDocument>>;
    async fn list_documents(&self, kind: &str) -> StoreResult<Vec<StoredDocument>>;

    async fn create_approval(&self, approval: &Approval) -> StoreResult<()>;
    async fn get_approval(&self, id: &str) -> StoreResult<Approval>;
    /// Newest first.
    async fn list_approvals(
        &self,
        partner_id: Option<&str>,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>>;
    /// Records the decision on a pending request; false when it was no longer pending (two
    /// approvers raced, and the other won).
    async fn decide_approval(&self, decided: &Approval) -> StoreResult<bool>;
    /// Records what applying an approved request came to (`failed` and why, when it did).
    async fn set_approval_outcome(
        &self,
        id: &str,
        status: ApprovalStatus,
        outcome: &str,
    ) -> StoreResult<()>;

    async fn create_review(&self, review: &Review) -> StoreResult<()>;
    async fn get_review(&self, id: &str) -> StoreResult<Review>;
    /// By due date.
    async fn list_reviews(
        &self,
        partner_id: Option<&str>,
        status: Option<ReviewStatus>,
    ) -> StoreResult<Vec<Review>>;
    /// Completes an open review; false when it was no longer open.
    async fn complete_review(&self, completed: &Review) -> StoreResult<bool>;
    /// Moves the due date of an open review (its partner's risk tier changed).
    async fn set_review_due(&self, id: &str, due_at: UnixSeconds) -> StoreResult<()>;
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    async fn add_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    async fn list_signing_keys(&self, environment: Environment) -> StoreResult<Vec<SigningKey>>;
    async fn set_signing_key_status(&self, kid: &str, status: SigningKeyStatus) -> StoreResult<()>;
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Idempotent: revoking a revoked token again succeeds.
    async fn revoke_token(&self, token: &RevokedToken) -> StoreResult<()>;
    /// Revocations whose token has not yet expired at `now`.
    async fn list_revoked_tokens(&self, now: UnixSeconds) -> StoreResult<Vec<RevokedToken>>;
    /// Forgets revocations of tokens that expired before `now`; returns how many.
    async fn prune_revoked_tokens(&self, now: UnixSeconds) -> StoreResult<u64>;
}

#[async_trait]
pub trait AdminTokenStore: Send + Sync {
    async fn add_admin_token(&self, token: &AdminToken) -> StoreResult<()>;
    async fn find_admin_token(&self, token_sha256: &str) -> StoreResult<Option<AdminToken>>;
    async fn count_admin_tokens(&self) -> StoreResult<u64>;
}

#[async_trait]
pub trait RevisionStore: Send + Sync {
    /// A counter that every write above increases; cheap to poll.
    async fn revision(&self) -> StoreResult<i64>;
    /// Everything the data plane serves from, read consistently, at `now`.
    async fn load_state(&self, now: UnixSeconds) -> StoreResult<StateDump>;
}

/// The whole store, as one object the binary wires into the planes.
pub trait Store:
    PartnerStore
    + ClientStore
    + GrantStore
    + SigningKeyStore
    + RevocationStore
    + AdminTokenStore
    + RevisionStore
    + GovernanceStore
{
}

impl<T> Store for T where
    T: PartnerStore
        + ClientStore
        + GrantStore
        + SigningKeyStore
        + RevocationStore
        + AdminTokenStore
        + RevisionStore
        + GovernanceStore
{
}
