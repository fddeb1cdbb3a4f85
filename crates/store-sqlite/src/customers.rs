//! Customers on SQLite: enrolment (one at a time with its audit record, or in bulk),
//! look-up by any key, and listing. The customer row mapping lives here.

use crate::audit::insert_audit;
use crate::rows::{decode_field, time_col, time_opt, uuid_col};
use crate::sync_tx::{SyncLedgerTx, sq};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, AuditRecord, Customer, CustomerKey, NewCustomer, PointsError,
};
use loyalty_core::domain::{BirthDate, ConsentSource, CustomerId, MarketingConsent, OrgId};
use loyalty_core::ledger_tx::{self, LedgerTx};
use loyalty_core::store::{
    CustomerKeys, CustomerStore, Erased, Erasure, ImportWritten, ImportedCustomer, StoreError,
    consent_audit, customer_claimed_audit, customer_enrolled_audit, customers_imported_audit,
    new_id,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, birth_date, marketing_consent, marketing_consent_at, marketing_consent_source, created_at";

fn customer_from_row(r: &SqliteRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: uuid_col(r, "id")?,
        organization_id: OrgId(uuid_col(r, "organization_id")?),
        card_number: r
            .try_get::<Option<String>, _>("card_number")?
            .unwrap_or_default(),
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        identity_subject: r.try_get("identity_subject")?,
        status: r.try_get("status")?,
        balance: r.try_get("balance")?,
        birth_date: r
            .try_get::<Option<String>, _>("birth_date")?
            .map(|d| decode_field("birth_date", BirthDate::from_stored(&d)))
            .transpose()?,
        marketing_consent: MarketingConsent {
            granted: r.try_get("marketing_consent")?,
            at: time_opt(r, "marketing_consent_at")?,
            source: consent_source(r.try_get("marketing_consent_source")?)?,
        },
        created_at: time_col(r, "created_at")?,
    })
}

fn consent_source(s: Option<String>) -> Result<Option<ConsentSource>, sqlx::Error> {
    s.map(|s| {
        ConsentSource::parse(&s).ok_or_else(|| {
            sqlx::Error::Decode(format!("column marketing_consent_source: unknown {s:?}").into())
        })
    })
    .transpose()
}

/// One batch of a customer import on the writer's connection (inside its savepoint):
/// the customers whose row key is new, their opening balances through the ledger's
/// rules, and the batch's audit record.
pub(crate) fn import_batch(
    tx: &mut SyncLedgerTx<'_>,
    org: OrgId,
    rows: &[ImportedCustomer],
    reason: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<ImportWritten, StoreError> {
    let mut written = ImportWritten::default();
    let mut opening = Vec::new();
    {
        let mut insert = tx
            .0
            .prepare_cached(
                "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, birth_date, \
                 marketing_consent, marketing_consent_at, marketing_consent_source, import_key, created_by, created_at, updated_at) \
                 VALUES (?1, ?2, 'customer', 'active', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) \
                 ON CONFLICT (organization_id, import_key) WHERE import_key IS NOT NULL DO NOTHING",
            )
            .map_err(sq)?;
        for r in rows {
            let id = CustomerId(new_id());
            let n = insert
                .execute(rusqlite::params![
                    id.to_string(),
                    org.0.to_string(),
                    r.new.phone,
                    r.new.email,
                    r.new.name,
                    r.new.card_number,
                    r.birth_date.map(|d| d.to_string()),
                    r.consent.granted,
                    r.consent.at.map(ts),
                    r.consent.source.map(ConsentSource::as_str),
                    r.key,
                    actor.member_id.map(|u| u.to_string()),
                    ts(now),
                ])
                .map_err(sq)?;
            if n == 1 {
                written.created += 1;
                opening.push((id, r.opening_balance));
            } else {
                written.skipped += 1;
            }
        }
    }
    written.points = crate::writer::run_sync(ledger_tx::open_balances(
        tx, org, &opening, reason, actor, now,
    ))
    .map_err(points_store_error)?;
    crate::writer::run_sync(
        tx.insert_audit(&customers_imported_audit(org, actor, reason, &written, now)),
    )?;
    Ok(written)
}

fn points_store_error(e: PointsError) -> StoreError {
    match e {
        PointsError::Store(e) => e,
        other => StoreError::Backend(other.to_string().into()),
    }
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn enroll_customer(
        &self,
        org: OrgId,
        new: &NewCustomer,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Customer, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, phone, card_number, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'customer', 'active', ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id().to_string())
            .bind(org.0.to_string())
            .bind(&new.identity_subject)
            .bind(&new.email)
            .bind(&new.name)
            .bind(&new.phone)
            .bind(&new.card_number)
            .bind(new.created_by.map(|u| u.to_string()))
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let customer = customer_from_row(&row).map_err(map_err)?;
        insert_audit(&mut tx, &customer_enrolled_audit(actor, &customer, now)).await?;
        // The event is queued in this transaction: it exists exactly when the customer does.
        crate::webhooks::insert_event(
            &mut tx,
            &loyalty_core::webhook::NewEvent::enrolled(org, &customer, now),
            None,
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(customer)
    }

    async fn bulk_enroll(
        &self,
        org: OrgId,
        customers: &[NewCustomer],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let mut n = 0;
        for c in customers {
            n += sqlx::query(
                "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, created_at, updated_at) \
                 VALUES (?1, ?2, 'customer', 'active', ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .bind(new_id().to_string())
            .bind(org.0.to_string())
            .bind(&c.phone)
            .bind(&c.email)
            .bind(&c.name)
            .bind(&c.card_number)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        }
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn find_customer(
        &self,
        org: OrgId,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, StoreError> {
        let (cond, arg) = match key {
            CustomerKey::Id(id) => ("id = ?2", id.to_string()),
            CustomerKey::Phone(p) => ("phone = ?2", p.clone()),
            CustomerKey::Email(e) => ("lower(email) = lower(?2)", e.clone()),
            CustomerKey::Card(c) => ("card_number = ?2", c.clone()),
            CustomerKey::Subject(s) => ("identity_subject = ?2", s.clone()),
        };
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = ?1 AND role = 'customer' AND {cond}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(arg)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(customer_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn list_customers(
        &self,
        org: OrgId,
        after: Option<CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = ?1 AND role = 'customer' \
             AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(after.map(|u| u.to_string()))
            .bind(i64::from(limit))
            // Page after page of every customer (the balances export): see `scan`.
            .fetch_all(&self.scan)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(customer_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn erase_customer(
        &self,
        org: OrgId,
        customer: CustomerId,
        audit: &AuditRecord,
        now: OffsetDateTime,
    ) -> Result<Option<Erased>, StoreError> {
        self.erase(org, customer, audit, now).await
    }

    async fn erasure(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<Erasure>, StoreError> {
        self.erasure_of(org, customer).await
    }

    async fn erasure_log(&self) -> Result<Vec<Erasure>, StoreError> {
        self.all_erasures().await
    }

    async fn replay_erasures(&self, log: &[Erasure]) -> Result<u64, StoreError> {
        self.replay(log).await
    }

    async fn import_customers(
        &self,
        org: OrgId,
        rows: &[ImportedCustomer],
        reason: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ImportWritten, StoreError> {
        crate::writer::import(&self.writer, org, rows, reason, actor, now).await
    }

    async fn customer_keys(&self, org: OrgId) -> Result<Vec<CustomerKeys>, StoreError> {
        let rows = sqlx::query(
            "SELECT email, phone, card_number, import_key FROM users WHERE organization_id = ?1 AND role = 'customer'",
        )
        .bind(org.0.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(CustomerKeys {
                    email: r
                        .try_get::<Option<String>, _>("email")?
                        .map(|e| e.to_lowercase()),
                    phone: r.try_get("phone")?,
                    card_number: r.try_get("card_number")?,
                    import_key: r.try_get("import_key")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn set_marketing_consent(
        &self,
        org: OrgId,
        customer: CustomerId,
        consent: &MarketingConsent,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let now = consent.at.unwrap_or_else(OffsetDateTime::now_utc);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE users SET marketing_consent = ?3, marketing_consent_at = ?4, marketing_consent_source = ?5, updated_at = ?4 \
             WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(consent.granted)
        .bind(ts(now))
        .bind(consent.source.map(ConsentSource::as_str))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &consent_audit(org, actor, customer, consent, now)).await?;
        crate::webhooks::insert_event(
            &mut tx,
            &loyalty_core::webhook::NewEvent::consent_changed(org, customer, consent, now),
            None,
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn create_claim_link(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE claim_links SET used_at = ?3 WHERE organization_id = ?1 AND customer_id = ?2 AND used_at IS NULL",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO claim_links (token_hash, organization_id, customer_id, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(token_hash)
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(ts(expires_at))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn claim_link_customer(
        &self,
        org: OrgId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Customer>, StoreError> {
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = ?1 AND role = 'customer' \
             AND identity_subject IS NULL AND id = (SELECT customer_id FROM claim_links \
             WHERE organization_id = ?1 AND token_hash = ?2 AND used_at IS NULL AND expires_at > ?3)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(token_hash)
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(customer_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn use_claim_link(
        &self,
        org: OrgId,
        token_hash: &str,
        subject: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Customer>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let used = sqlx::query(
            "UPDATE claim_links SET used_at = ?3 WHERE organization_id = ?1 AND token_hash = ?2 \
             AND used_at IS NULL AND expires_at > ?3 RETURNING customer_id",
        )
        .bind(org.0.to_string())
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(used) = used else {
            return Ok(None);
        };
        let customer: String = used.try_get(0).map_err(map_err)?;
        let sql = format!(
            "UPDATE users SET identity_subject = ?3, updated_at = ?4 WHERE organization_id = ?1 AND id = ?2 \
             AND role = 'customer' AND identity_subject IS NULL RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(customer)
            .bind(subject)
            .bind(ts(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let claimed = customer_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &customer_claimed_audit(org, actor, claimed.id, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(claimed))
    }
}
