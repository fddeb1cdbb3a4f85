//! The mail outbox and mail settings on PostgreSQL. Senders claim due rows with
//! `FOR UPDATE SKIP LOCKED` and a claim lease, so two servers never send the same mail
//! at the same time.

use crate::audit::insert_audit;
use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::mail::{
    ExpiryTarget, MailKind, MailSettings, NewMail, OutboxMail, OutboxStatus, ReceiptTarget,
};
use loyalty_core::store::{MailStore, StoreError, mail_settings_audit};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

const MAIL_COLUMNS: &str = "id, organization_id, kind, dedupe_key, to_address, from_name, reply_to, subject, body_text, body_html, \
     created_at, discard_after, attempts, next_attempt_at, last_error, sent_at, failed_at";

fn mail_from_row(r: &PgRow) -> Result<OutboxMail, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(OutboxMail {
        mail: NewMail {
            id: r.try_get("id")?,
            organization_id: r.try_get::<Option<Uuid>, _>("organization_id")?.map(OrgId),
            kind: MailKind::parse(&kind)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown mail kind {kind}").into()))?,
            dedupe_key: r.try_get("dedupe_key")?,
            to_address: r.try_get("to_address")?,
            from_name: r.try_get("from_name")?,
            reply_to: r.try_get("reply_to")?,
            subject: r.try_get("subject")?,
            body_text: r.try_get("body_text")?,
            body_html: r.try_get("body_html")?,
            created_at: r.try_get("created_at")?,
            discard_after: r.try_get("discard_after")?,
        },
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
        failed_at: r.try_get("failed_at")?,
    })
}

/// Queues a mail on an open connection or transaction; `false` when the dedupe key is
/// already queued.
pub(crate) async fn insert_mail(conn: &mut PgConnection, m: &NewMail) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO mail_outbox (id, organization_id, kind, dedupe_key, to_address, from_name, reply_to, subject, \
         body_text, body_html, created_at, discard_after, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(m.id)
    .bind(m.organization_id.map(|o| o.0))
    .bind(m.kind.as_str())
    .bind(&m.dedupe_key)
    .bind(&m.to_address)
    .bind(&m.from_name)
    .bind(&m.reply_to)
    .bind(&m.subject)
    .bind(&m.body_text)
    .bind(&m.body_html)
    .bind(m.created_at)
    .bind(m.discard_after)
    .execute(conn)
    .await
    .map_err(map_err)?
    .rows_affected();
    Ok(n == 1)
}

/// The receipt recipient of a customer, when the organization sends receipts.
pub(crate) async fn receipt_target(
    conn: &mut PgConnection,
    org: OrgId,
    customer: CustomerId,
) -> Result<Option<ReceiptTarget>, StoreError> {
    let row = sqlx::query(
        "SELECT u.email, u.name, o.name AS org_name, o.language, o.timezone, o.mail_sender_name, o.mail_sender_address \
         FROM users u JOIN organizations o ON o.id = u.organization_id \
         WHERE u.organization_id = $1 AND u.id = $2 AND o.mail_points_receipt AND u.email IS NOT NULL",
    )
    .bind(org.0)
    .bind(customer.0)
    .fetch_optional(conn)
    .await
    .map_err(map_err)?;
    row.map(|r| -> Result<ReceiptTarget, sqlx::Error> {
        Ok(ReceiptTarget {
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            org_name: r.try_get("org_name")?,
            language: r.try_get("language")?,
            timezone: r.try_get("timezone")?,
            sender_name: r.try_get("mail_sender_name")?,
            sender_address: r.try_get("mail_sender_address")?,
        })
    })
    .transpose()
    .map_err(map_err)
}

#[async_trait]
impl MailStore for PgStore {
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        insert_mail(&mut conn, mail).await
    }

    async fn claim_mails(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let sql = format!(
            "UPDATE mail_outbox SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
                          AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
                          ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {MAIL_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let mut mails = rows
            .iter()
            .map(mail_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        mails.sort_by_key(|m| (m.next_attempt_at, m.mail.id));
        Ok(mails)
    }

    async fn mark_mail_sent(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        erase_body: bool,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL, \
             body_text = CASE WHEN $3 THEN '(sent; erased because it held a one-time link)' ELSE body_text END, \
             body_html = CASE WHEN $3 THEN NULL ELSE body_html END \
             WHERE id = $1 AND sent_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .bind(erase_body)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn mark_mail_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET claimed_until = NULL, last_error = $2, last_error_at = $4, \
             next_attempt_at = COALESCE($3, next_attempt_at), failed_at = CASE WHEN $3 IS NULL THEN $4 END \
             WHERE id = $1 AND sent_at IS NULL",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn withdraw_link_mails(
        &self,
        org: Option<OrgId>,
        to_address: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE mail_outbox SET failed_at = $3, last_error = 'withdrawn: a newer link was issued', last_error_at = $3 \
             WHERE organization_id IS NOT DISTINCT FROM $1 AND lower(to_address) = lower($2) \
             AND kind IN ('sign_in_link', 'password_reset') AND sent_at IS NULL AND failed_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(org.map(|o| o.0))
        .bind(to_address)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected())
    }

    async fn retry_mails(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $1, failed_at = NULL, attempts = 0 \
             WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1) \
             AND (last_error IS NULL OR last_error NOT LIKE 'withdrawn:%')",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected())
    }

    async fn mail_status(&self) -> Result<OutboxStatus, StoreError> {
        let r = sqlx::query(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL) AS pending, \
                    count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL AND last_error IS NOT NULL) AS retrying, \
                    count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed, \
                    count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent, \
                    min(created_at) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL) AS oldest, \
                    (SELECT last_error FROM mail_outbox WHERE last_error_at IS NOT NULL ORDER BY last_error_at DESC LIMIT 1) AS last_error \
             FROM mail_outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let get = |r: &PgRow| -> Result<OutboxStatus, sqlx::Error> {
            Ok(OutboxStatus {
                pending: r.try_get("pending")?,
                retrying: r.try_get("retrying")?,
                failed: r.try_get("failed")?,
                sent: r.try_get("sent")?,
                last_error: r.try_get("last_error")?,
                oldest_pending: r.try_get("oldest")?,
            })
        };
        get(&r).map_err(map_err)
    }

    async fn list_mails(
        &self,
        org: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let sql = format!(
            "SELECT {MAIL_COLUMNS} FROM mail_outbox WHERE organization_id IS NOT DISTINCT FROM $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.map(|o| o.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(mail_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn mail_settings(&self, org: OrgId) -> Result<MailSettings, StoreError> {
        let row = sqlx::query(
            "SELECT mail_sender_name, mail_sender_address, mail_points_receipt, mail_expiry_warning_days \
             FROM organizations WHERE id = $1",
        )
        .bind(org.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(r) = row else {
            return Ok(MailSettings::default());
        };
        let get = |r: &PgRow| -> Result<MailSettings, sqlx::Error> {
            Ok(MailSettings {
                sender_name: r.try_get("mail_sender_name")?,
                sender_address: r.try_get("mail_sender_address")?,
                points_receipt: r.try_get("mail_points_receipt")?,
                expiry_warning_days: r.try_get("mail_expiry_warning_days")?,
            })
        };
        get(&r).map_err(map_err)
    }

    async fn update_mail_settings(
        &self,
        org: OrgId,
        s: &MailSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET mail_sender_name = $2, mail_sender_address = $3, mail_points_receipt = $4, \
             mail_expiry_warning_days = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(org.0)
        .bind(&s.sender_name)
        .bind(&s.sender_address)
        .bind(s.points_receipt)
        .bind(s.expiry_warning_days)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_audit(&mut tx, &mail_settings_audit(org, actor, s, now)).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn expiry_targets(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
        email_only: bool,
    ) -> Result<Vec<ExpiryTarget>, StoreError> {
        let rows = sqlx::query(
            "WITH c AS ( \
               SELECT u.id, COALESCE(u.email, '') AS email, u.name, u.balance, \
                 COALESCE((SELECT sum(t.points) FROM points_transactions t WHERE t.organization_id = $1 AND t.user_id = u.id \
                           AND t.points > 0 AND t.created_at <= $2), 0)::bigint AS credits, \
                 COALESCE((SELECT -sum(t.points) FROM points_transactions t WHERE t.organization_id = $1 AND t.user_id = u.id \
                           AND t.points < 0), 0)::bigint AS debits \
               FROM users u WHERE u.organization_id = $1 AND u.role = 'customer' AND u.status = 'active' \
                 AND u.balance > 0 AND (NOT $3 OR u.email IS NOT NULL)) \
             SELECT c.id, c.email, c.name, c.balance, c.credits, c.debits, \
               (SELECT r.created_at FROM (SELECT t.created_at, t.id, sum(t.points) OVER (ORDER BY t.created_at, t.id) AS run \
                   FROM points_transactions t WHERE t.organization_id = $1 AND t.user_id = c.id AND t.points > 0) r \
                WHERE r.run > c.debits ORDER BY r.created_at, r.id LIMIT 1) AS oldest \
             FROM c WHERE c.credits > c.debits ORDER BY c.id",
        )
        .bind(org.0)
        .bind(cutoff)
        .bind(email_only)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| -> Result<ExpiryTarget, sqlx::Error> {
                Ok(ExpiryTarget {
                    customer: CustomerId(r.try_get("id")?),
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    balance: r.try_get("balance")?,
                    credits: r.try_get("credits")?,
                    debits: r.try_get("debits")?,
                    oldest_unspent: r.try_get("oldest")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
