//! Customers on PostgreSQL: enrolment (one at a time with its audit record, or in
//! bulk), look-up by any key, and listing. The customer row mapping lives here.

use crate::audit::insert_audit;
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{CustomerStore, StoreError, customer_enrolled_audit, new_id};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, created_at";

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
        created_at: r.try_get("created_at")?,
    })
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
}
