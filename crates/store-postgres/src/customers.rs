//! Customers on PostgreSQL: enrolment (one at a time with its audit record, or in
//! bulk), look-up by any key, and listing. The customer row mapping lives here.

use crate::audit::insert_audit;
use crate::ledger_tx::PgLedgerTx;
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, AuditRecord, Customer, CustomerKey, NewCustomer, PointsError,
};
use loyalty_core::domain::{BirthDate, ConsentSource, CustomerId, MarketingConsent, OrgId};
use loyalty_core::ledger_tx;
use loyalty_core::store::{
    CustomerKeys, CustomerStore, Erased, Erasure, ImportWritten, ImportedCustomer, StoreError,
    consent_audit, customer_claimed_audit, customer_enrolled_audit, customers_imported_audit,
    new_id,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, birth_date, marketing_consent, marketing_consent_at, marketing_consent_source, created_at";

fn customer_from_row(r: &PgRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: CustomerId(r.try_get("id")?),
        organization_id: OrgId(r.try_get("organization_id")?),
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
            .try_get::<Option<time::Date>, _>("birth_date")?
            .map(|d| BirthDate::from_stored(&d.to_string()))
            .transpose()
            .map_err(|e| field_err("birth_date", e))?,
        marketing_consent: MarketingConsent {
            granted: r.try_get("marketing_consent")?,
            at: r.try_get("marketing_consent_at")?,
            source: consent_source(r.try_get("marketing_consent_source")?)?,
        },
        created_at: r.try_get("created_at")?,
    })
}

fn field_err(col: &str, e: loyalty_core::FieldError) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {col}: {}", e.message).into())
}

fn consent_source(s: Option<String>) -> Result<Option<ConsentSource>, sqlx::Error> {
    s.map(|s| {
        ConsentSource::parse(&s).ok_or_else(|| {
            sqlx::Error::Decode(format!("column marketing_consent_source: unknown {s:?}").into())
        })
    })
    .transpose()
}

#[async_trait]
impl CustomerStore for PgStore {
    async fn enroll_customer(
        &self,
        org: OrgId,
        new: &NewCustomer,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, phone, card_number, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'customer', 'active', $4, $5, $6, $7, $8, $9, $9) RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id())
            .bind(org.0)
            .bind(&new.identity_subject)
            .bind(&new.email)
            .bind(&new.name)
            .bind(&new.phone)
            .bind(&new.card_number)
            .bind(new.created_by)
            .bind(now)
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
        let ids: Vec<Uuid> = customers.iter().map(|_| new_id()).collect();
        let phones: Vec<Option<String>> = customers.iter().map(|c| c.phone.clone()).collect();
        let emails: Vec<Option<String>> = customers.iter().map(|c| c.email.clone()).collect();
        let names: Vec<Option<String>> = customers.iter().map(|c| c.name.clone()).collect();
        let cards: Vec<String> = customers.iter().map(|c| c.card_number.clone()).collect();
        let done = sqlx::query(
            "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, created_at, updated_at) \
             SELECT u.id, $1, 'customer', 'active', u.phone, u.email, u.name, u.card, $7, $7 \
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(id, phone, email, name, card)",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&phones)
        .bind(&emails)
        .bind(&names)
        .bind(&cards)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        // A bulk import changes the table far faster than autovacuum re-reads its
        // statistics; until then the planner takes (organization, role) for a customer's
        // row instead of the primary key and scans the whole organization per lookup.
        if let Err(e) = sqlx::query("ANALYZE users").execute(&self.pool).await {
            tracing::warn!(error = %e, "could not ANALYZE users after a bulk import; lookups may be slow until autovacuum does");
        }
        Ok(done.rows_affected())
    }

    async fn find_customer(
        &self,
        org: OrgId,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, StoreError> {
        let (cond, arg) = match key {
            CustomerKey::Id(id) => ("id = $2::uuid", id.to_string()),
            CustomerKey::Phone(p) => ("phone = $2", p.clone()),
            CustomerKey::Email(e) => ("lower(email) = lower($2)", e.clone()),
            CustomerKey::Card(c) => ("card_number = $2", c.clone()),
            CustomerKey::Subject(s) => ("identity_subject = $2", s.clone()),
        };
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = $1 AND role = 'customer' AND {cond}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
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
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = $1 AND role = 'customer' \
             AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(after.map(|c| c.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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
        let ids: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
        let col =
            |f: fn(&ImportedCustomer) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        let phones = col(|r| r.new.phone.clone());
        let emails = col(|r| r.new.email.clone());
        let names = col(|r| r.new.name.clone());
        let cards: Vec<String> = rows.iter().map(|r| r.new.card_number.clone()).collect();
        let births: Vec<Option<time::Date>> = rows
            .iter()
            .map(|r| r.birth_date.map(BirthDate::date))
            .collect();
        let consents: Vec<bool> = rows.iter().map(|r| r.consent.granted).collect();
        let consent_at: Vec<Option<OffsetDateTime>> = rows.iter().map(|r| r.consent.at).collect();
        let sources = col(|r| r.consent.source.map(|s| s.as_str().to_owned()));
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let created = sqlx::query(
            "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, birth_date, \
             marketing_consent, marketing_consent_at, marketing_consent_source, import_key, created_by, created_at, updated_at) \
             SELECT u.id, $1, 'customer', 'active', u.phone, u.email, u.name, u.card, u.birth, u.consent, u.consent_at, \
                    u.source, u.key, $12, $13, $13 \
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::bool[], \
                         $9::timestamptz[], $10::text[], $11::text[]) \
                  AS u(id, phone, email, name, card, birth, consent, consent_at, source, key) \
             ON CONFLICT (organization_id, import_key) WHERE import_key IS NOT NULL DO NOTHING \
             RETURNING id, import_key",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&phones)
        .bind(&emails)
        .bind(&names)
        .bind(&cards)
        .bind(&births)
        .bind(&consents)
        .bind(&consent_at)
        .bind(&sources)
        .bind(&keys)
        .bind(actor.member_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let balances: std::collections::HashMap<&str, i64> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.opening_balance))
            .collect();
        let mut opening = Vec::with_capacity(created.len());
        for row in &created {
            let id: Uuid = row.try_get("id").map_err(map_err)?;
            let key: String = row.try_get("import_key").map_err(map_err)?;
            opening.push((
                CustomerId(id),
                balances.get(key.as_str()).copied().unwrap_or(0),
            ));
        }
        let mut written = ImportWritten {
            created: created.len() as u64,
            skipped: (rows.len() - created.len()) as u64,
            points: 0,
        };
        let mut ltx = PgLedgerTx(tx);
        written.points = ledger_tx::open_balances(&mut ltx, org, &opening, reason, actor, now)
            .await
            .map_err(|e| match e {
                PointsError::Store(e) => e,
                other => StoreError::Backend(other.to_string().into()),
            })?;
        let mut tx = ltx.0;
        insert_audit(
            &mut tx,
            &customers_imported_audit(org, actor, reason, &written, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        // As after a bulk enrolment: fresh statistics keep look-ups on the primary key.
        // Only while the batch is large against what the statistics know (the first
        // batches of a large import), not after every batch.
        let known: f64 = sqlx::query_scalar(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = 'users'::regclass",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        if written.created as f64 > 0.2 * known.max(0.0)
            && let Err(e) = sqlx::query("ANALYZE users").execute(&self.pool).await
        {
            tracing::warn!(error = %e, "could not ANALYZE users after an import batch");
        }
        Ok(written)
    }

    async fn customer_keys(&self, org: OrgId) -> Result<Vec<CustomerKeys>, StoreError> {
        let rows = sqlx::query(
            "SELECT lower(email) AS email, phone, card_number, import_key FROM users \
             WHERE organization_id = $1 AND role = 'customer'",
        )
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(CustomerKeys {
                    email: r.try_get("email")?,
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let done = sqlx::query(
            "UPDATE users SET marketing_consent = $3, marketing_consent_at = $4, marketing_consent_source = $5, updated_at = $4 \
             WHERE organization_id = $1 AND id = $2 AND role = 'customer'",
        )
        .bind(org.0)
        .bind(customer.0)
        .bind(consent.granted)
        .bind(now)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        sqlx::query(
            "UPDATE claim_links SET used_at = $3 WHERE organization_id = $1 AND customer_id = $2 AND used_at IS NULL",
        )
        .bind(org.0)
        .bind(customer.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO claim_links (token_hash, organization_id, customer_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(org.0)
        .bind(customer.0)
        .bind(expires_at)
        .bind(now)
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
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = $1 AND role = 'customer' \
             AND identity_subject IS NULL AND id = (SELECT customer_id FROM claim_links \
             WHERE organization_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(token_hash)
            .bind(now)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let used = sqlx::query(
            "UPDATE claim_links SET used_at = $3 WHERE organization_id = $1 AND token_hash = $2 \
             AND used_at IS NULL AND expires_at > $3 RETURNING customer_id",
        )
        .bind(org.0)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(used) = used else {
            return Ok(None);
        };
        let customer: Uuid = used.try_get(0).map_err(map_err)?;
        let sql = format!(
            "UPDATE users SET identity_subject = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2 \
             AND role = 'customer' AND identity_subject IS NULL RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(customer)
            .bind(subject)
            .bind(now)
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
