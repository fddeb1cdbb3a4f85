//! Customers on SQLite: enrolment (one at a time with its audit record, or in bulk),
//! look-up by any key, and listing. The customer row mapping lives here.

use crate::audit::insert_audit;
use crate::rows::{time_col, uuid_col};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{CustomerStore, StoreError, customer_enrolled_audit, new_id};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, created_at";

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
        created_at: time_col(r, "created_at")?,
    })
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
}
