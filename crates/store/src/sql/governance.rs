//! Onboarding evidence, approval requests and access reviews. None of it is served by the
//! data plane, so none of these writes bumps the state revision; the changes they lead to
//! (a partner's status, a grant, a credential) go through the other stores and do.

use async_trait::async_trait;
use portcullis_core::clock::UnixSeconds;
use portcullis_core::governance::{Approval, ApprovalStatus, Review, ReviewStatus, StoredDocument};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{insert_error, json_error, not_found, text_enum, SqlStore};
use crate::{GovernanceStore, StoreResult};

const DOCUMENT_COLUMNS: &str = "partner_id, kind, body, updated_at, updated_by";

fn document_from_row(row: &AnyRow) -> StoreResult<StoredDocument> {
    let body: String = row.try_get("body")?;
    Ok(StoredDocument {
        partner_id: row.try_get("partner_id")?,
        kind: row.try_get("kind")?,
        document: serde_json::from_str(&body).map_err(json_error("body"))?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

const APPROVAL_COLUMNS: &str = "id, partner_id, kind, change, status, requested_by, \
     requested_by_id, requested_at, justification, decided_by, decided_at, \
     decision_justification, outcome";

fn approval_from_row(row: &AnyRow) -> StoreResult<Approval> {
    let change: String = row.try_get("change")?;
    Ok(Approval {
        id: row.try_get("id")?,
        partner_id: row.try_get("partner_id")?,
        kind: text_enum(row, "kind")?,
        change: serde_json::from_str(&change).map_err(json_error("change"))?,
        status: text_enum(row, "status")?,
        requested_by: row.try_get("requested_by")?,
        requested_by_id: row.try_get("requested_by_id")?,
        requested_at: row.try_get("requested_at")?,
        justification: row.try_get("justification")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_justification: row.try_get("decision_justification")?,
        outcome: row.try_get("outcome")?,
    })
}

const REVIEW_COLUMNS: &str =
    "id, partner_id, status, opened_at, due_at, completed_at, reviewer, decisions";

fn review_from_row(row: &AnyRow) -> StoreResult<Review> {
    let decisions: String = row.try_get("decisions")?;
    Ok(Review {
        id: row.try_get("id")?,
        partner_id: row.try_get("partner_id")?,
        status: text_enum(row, "status")?,
        opened_at: row.try_get("opened_at")?,
        due_at: row.try_get("due_at")?,
        completed_at: row.try_get("completed_at")?,
        reviewer: row.try_get("reviewer")?,
        decisions: serde_json::from_str(&decisions).map_err(json_error("decisions"))?,
    })
}

/// The rows of `select` (columns and table) matching the optional partner and status
/// filters, in `order`, decoded by `decode`.
async fn select_filtered<T>(
    store: &SqlStore,
    select: &str,
    (partner_id, status): (Option<&str>, Option<&str>),
    order: &str,
    decode: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    for (column, value) in [("partner_id", partner_id), ("status", status)] {
        if let Some(value) = value {
            binds.push(value);
            clauses.push(format!("{column} = ${}", binds.len()));
        }
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!("SELECT {select} {clause} ORDER BY {order}");
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = query.bind(bind);
    }
    query
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
}

#[async_trait]
impl GovernanceStore for SqlStore {
    async fn put_document(&self, document: &StoredDocument) -> StoreResult<()> {
        let body = serde_json::to_string(&document.document).map_err(json_error("body"))?;
        sqlx::query(
            "INSERT INTO partner_documents (partner_id, kind, body, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (partner_id, kind) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(document.partner_id.as_str())
        .bind(document.kind.as_str())
        .bind(body)
        .bind(document.updated_at)
        .bind(document.updated_by.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "document", &document.kind, Some(&document.partner_id)))?;
        Ok(())
    }

    async fn get_document(
        &self,
        partner_id: &str,
        kind: &str,
    ) -> StoreResult<Option<StoredDocument>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM partner_documents WHERE partner_id = $1 AND kind = $2"
        );
        sqlx::query(&sql)
            .bind(partner_id)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(document_from_row)
            .transpose()
    }

    async fn list_documents(&self, kind: &str) -> StoreResult<Vec<StoredDocument>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM partner_documents WHERE kind = $1 ORDER BY partner_id"
        );
        sqlx::query(&sql)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(document_from_row)
            .collect()
    }

    async fn create_approval(&self, approval: &Approval) -> StoreResult<()> {
        let change = serde_json::to_string(&approval.change).map_err(json_error("change"))?;
        sqlx::query(
            "INSERT INTO approvals (id, partner_id, kind, change, status, requested_by, \
             requested_by_id, requested_at, justification) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(approval.id.as_str())
        .bind(approval.partner_id.as_str())
        .bind(approval.kind.as_str())
        .bind(change)
        .bind(approval.status.as_str())
        .bind(approval.requested_by.as_str())
        .bind(approval.requested_by_id.as_str())
        .bind(approval.requested_at)
        .bind(approval.justification.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "approval", &approval.id, Some(&approval.partner_id)))?;
        Ok(())
    }

    async fn get_approval(&self, id: &str) -> StoreResult<Approval> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("approval", id))?;
        approval_from_row(&row)
    }

    async fn list_approvals(
        &self,
        partner_id: Option<&str>,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>> {
        select_filtered(
            self,
            &format!("{APPROVAL_COLUMNS} FROM approvals"),
            (partner_id, status.map(|s| s.as_str())),
            "requested_at DESC, id",
            approval_from_row,
        )
        .await
    }

    async fn decide_approval(&self, decided: &Approval) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE approvals SET status = $1, decided_by = $2, decided_at = $3, \
             decision_justification = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(decided.status.as_str())
        .bind(decided.decided_by.as_deref())
        .bind(decided.decided_at)
        .bind(decided.decision_justification.as_deref())
        .bind(decided.id.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn set_approval_outcome(
        &self,
        id: &str,
        status: ApprovalStatus,
        outcome: &str,
    ) -> StoreResult<()> {
        let updated = sqlx::query("UPDATE approvals SET status = $1, outcome = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(outcome)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(not_found("approval", id));
        }
        Ok(())
    }

    async fn create_review(&self, review: &Review) -> StoreResult<()> {
        let decisions =
            serde_json::to_string(&review.decisions).map_err(json_error("decisions"))?;
        sqlx::query(
            "INSERT INTO reviews (id, partner_id, status, opened_at, due_at, completed_at, \
             reviewer, decisions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(review.id.as_str())
        .bind(review.partner_id.as_str())
        .bind(review.status.as_str())
        .bind(review.opened_at)
        .bind(review.due_at)
        .bind(review.completed_at)
        .bind(review.reviewer.as_deref())
        .bind(decisions)
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "review", &review.id, Some(&review.partner_id)))?;
        Ok(())
    }

    async fn get_review(&self, id: &str) -> StoreResult<Review> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("review", id))?;
        review_from_row(&row)
    }

    async fn list_reviews(
        &self,
        partner_id: Option<&str>,
        status: Option<ReviewStatus>,
    ) -> StoreResult<Vec<Review>> {
        select_filtered(
            self,
            &format!("{REVIEW_COLUMNS} FROM reviews"),
            (partner_id, status.map(|s| s.as_str())),
            "due_at, id",
            review_from_row,
        )
        .await
    }

    async fn set_review_due(&self, id: &str, due_at: UnixSeconds) -> StoreResult<()> {
        let updated =
            sqlx::query("UPDATE reviews SET due_at = $1 WHERE id = $2 AND status = 'open'")
                .bind(due_at)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(not_found("open review", id));
        }
        Ok(())
    }

    async fn complete_review(&self, completed: &Review) -> StoreResult<bool> {
        let decisions =
            serde_json::to_string(&completed.decisions).map_err(json_error("decisions"))?;
        let updated = sqlx::query(
            "UPDATE reviews SET status = 'completed', completed_at = $1, reviewer = $2, \
             decisions = $3 WHERE id = $4 AND status = 'open'",
        )
        .bind(completed.completed_at)
        .bind(completed.reviewer.as_deref())
        .bind(decisions)
        .bind(completed.id.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }
}
