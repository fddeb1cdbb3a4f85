//! Erasure of a customer on SQLite: the one function that lists the personal columns
//! and clears them ([`clear_customer`]), run by an erasure and again by the replay of
//! the erasure log after a restore; and the log's reads.

use crate::audit::insert_audit;
use crate::rows::{time_col, uuid_col};
use crate::{SqliteStore, map_err, ts};
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{Erased, Erasure, PERSONAL_AUDIT_KEYS, StoreError, erased_name, new_id};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

const ERASURE_COLUMNS: &str = "id, organization_id, customer_id, erased_at, actor_role";

fn erasure_from_row(r: &SqliteRow) -> Result<Erasure, sqlx::Error> {
    Ok(Erasure {
        id: uuid_col(r, "id")?,
        organization_id: OrgId(uuid_col(r, "organization_id")?),
        customer_id: CustomerId(uuid_col(r, "customer_id")?),
        erased_at: time_col(r, "erased_at")?,
        actor_role: r.try_get("actor_role")?,
    })
}

/// Clears everything personal about one customer inside the caller's transaction.
/// `None` when the organization has no such customer.
///
/// The personal columns of `users` are listed in the last statement: a new personal
/// column is one line there (and in PostgreSQL's `erasure.rs`).
async fn clear_customer(
    tx: &mut SqliteConnection,
    org: OrgId,
    customer: CustomerId,
    now: OffsetDateTime,
) -> Result<Option<Erased>, StoreError> {
    let org_id = org.0.to_string();
    let id = customer.to_string();
    let row = sqlx::query(
        "SELECT email, identity_subject FROM users WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'",
    )
    .bind(&org_id)
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_err)?;
    let Some(row) = row else { return Ok(None) };
    let email: Option<String> = row.try_get("email").map_err(map_err)?;
    let subject: Option<String> = row.try_get("identity_subject").map_err(map_err)?;
    let account = match &subject {
        Some(s) => sqlx::query("SELECT pk, username FROM accounts WHERE uid = ?1")
            .bind(s)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .map(|r| -> Result<(i64, String), sqlx::Error> {
                Ok((r.try_get("pk")?, r.try_get("username")?))
            })
            .transpose()
            .map_err(map_err)?,
        None => None,
    };
    let pseudonym = erased_name(customer);
    // Claim links: the customer can no longer be claimed.
    sqlx::query("DELETE FROM claim_links WHERE organization_id = ?1 AND customer_id = ?2")
        .bind(&org_id)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    // Wallet passes: void, their tokens no longer open them and no device is told of them.
    sqlx::query(
        "UPDATE wallet_passes SET voided = 1, updated_us = MAX(?3, updated_us + 1000000) \
         WHERE organization_id = ?1 AND customer_id = ?2",
    )
    .bind(&org_id)
    .bind(&id)
    .bind(loyalty_core::store::micros(now))
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    for table in ["wallet_registrations", "wallet_pass_tokens", "wallet_links"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE organization_id = ?1 AND customer_id = ?2"
        )))
        .bind(&org_id)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    }
    // The member's card in Google Wallet, when they saved it: one outbox row, whose
    // update sets the object inactive and replaces the name (the sender reads the erasure).
    sqlx::query(
        "INSERT INTO wallet_pushes (id, organization_id, kind, target, created_at, next_attempt_at) \
         SELECT ?3, organization_id, 'google', customer_id, ?4, ?4 FROM wallet_google_objects \
         WHERE organization_id = ?1 AND customer_id = ?2 \
         ON CONFLICT (kind, target) WHERE sent_at IS NULL AND failed_at IS NULL DO NOTHING",
    )
    .bind(&org_id)
    .bind(&id)
    .bind(new_id().to_string())
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    // Sessions and one-time links: signed out everywhere.
    let sessions = sqlx::query("DELETE FROM sessions WHERE subject = ?1 OR account_pk = ?2")
        .bind(&subject)
        .bind(account.as_ref().map(|a| a.0))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
    let mut erased = Erased {
        sessions,
        ..Erased::default()
    };
    if let Some((pk, _)) = &account {
        sqlx::query("DELETE FROM account_tokens WHERE account_pk = ?1")
            .bind(pk)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    // Mail to them, queued or kept after sending: this organization's and the
    // installation's (sign-in links, password resets).
    if let Some(e) = &email {
        erased.mails = sqlx::query(
            "DELETE FROM mail_outbox WHERE lower(to_address) = lower(?1) AND (organization_id = ?2 OR organization_id IS NULL)",
        )
        .bind(e)
        .bind(&org_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
    }
    // The audit log keeps what happened, not who they were.
    for name in email.iter().chain(account.iter().map(|a| &a.1)) {
        sqlx::query(
            "UPDATE audit_log SET actor = ?3 WHERE organization_id = ?1 AND lower(actor) = lower(?2)",
        )
        .bind(&org_id)
        .bind(name)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    }
    let paths = PERSONAL_AUDIT_KEYS
        .iter()
        .map(|k| format!("'$.{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE audit_log SET before = json_remove(before, {paths}), after = json_remove(after, {paths}) \
         WHERE organization_id = ?1 AND target_type = 'customer' AND target_id = ?2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&org_id)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    if let Some(s) = &subject {
        erased.subject_in_use =
            sqlx::query("SELECT 1 FROM users WHERE identity_subject = ?1 AND id <> ?2 LIMIT 1")
                .bind(s)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .is_some();
    }
    // The built-in account, unless another organization's member row still uses it.
    if let (Some((pk, _)), Some(s)) = (&account, &subject) {
        sqlx::query("DELETE FROM account_group_members WHERE account_pk = ?1 AND NOT EXISTS (SELECT 1 FROM users WHERE identity_subject = ?2 AND id <> ?3)")
            .bind(pk)
            .bind(s)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        erased.account_removed = sqlx::query(
            "DELETE FROM accounts WHERE pk = ?1 AND NOT EXISTS (SELECT 1 FROM users WHERE identity_subject = ?2 AND id <> ?3)",
        )
        .bind(pk)
        .bind(s)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected()
            > 0;
    }
    // The personal columns of a customer, one line each.
    sqlx::query(
        "UPDATE users SET \
             name = ?3, \
             email = NULL, \
             phone = NULL, \
             card_number = NULL, \
             birth_date = NULL, \
             marketing_consent = FALSE, \
             marketing_consent_at = NULL, \
             marketing_consent_source = NULL, \
             identity_subject = NULL, \
             last_seen_at = NULL, \
             updated_at = ?4 \
         WHERE organization_id = ?1 AND id = ?2",
    )
    .bind(&org_id)
    .bind(&id)
    .bind(&pseudonym)
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    crate::webhooks::redact_customer(&mut *tx, org, customer, now).await?;
    Ok(Some(erased))
}

async fn log_erasure(tx: &mut SqliteConnection, e: &Erasure) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO erasures (id, organization_id, customer_id, erased_at, actor_role) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (organization_id, customer_id) DO NOTHING",
    )
    .bind(e.id.to_string())
    .bind(e.organization_id.0.to_string())
    .bind(e.customer_id.to_string())
    .bind(ts(e.erased_at))
    .bind(&e.actor_role)
    .execute(tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn erase(
        &self,
        org: OrgId,
        customer: CustomerId,
        audit: &AuditRecord,
        now: OffsetDateTime,
    ) -> Result<Option<Erased>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let Some(erased) = clear_customer(&mut tx, org, customer, now).await? else {
            return Ok(None);
        };
        log_erasure(
            &mut tx,
            &Erasure {
                id: new_id(),
                organization_id: org,
                customer_id: customer,
                erased_at: now,
                actor_role: audit.actor_role.clone(),
            },
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        crate::webhooks::insert_event(
            &mut tx,
            &loyalty_core::webhook::NewEvent::erased(org, customer, now),
            None,
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(erased))
    }

    pub(crate) async fn erasure_of(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<Erasure>, StoreError> {
        let sql = format!(
            "SELECT {ERASURE_COLUMNS} FROM erasures WHERE organization_id = ?1 AND customer_id = ?2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(customer.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(erasure_from_row)
            .transpose()
            .map_err(map_err)
    }

    pub(crate) async fn all_erasures(&self) -> Result<Vec<Erasure>, StoreError> {
        let sql = format!("SELECT {ERASURE_COLUMNS} FROM erasures ORDER BY erased_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(erasure_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    pub(crate) async fn replay(&self, log: &[Erasure]) -> Result<u64, StoreError> {
        let mut cleared = 0;
        for e in log {
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(map_err)?;
            if clear_customer(&mut tx, e.organization_id, e.customer_id, e.erased_at)
                .await?
                .is_some()
            {
                log_erasure(&mut tx, e).await?;
                cleared += 1;
            }
            tx.commit().await.map_err(map_err)?;
        }
        Ok(cleared)
    }
}
