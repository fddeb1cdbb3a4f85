//! Organizations and their members on SQLite.

use crate::audit::insert_audit;
use crate::rows::{decimal_col, decode, decode_field, parsed, uuid_col};
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{
    CountryCode, CurrencyCode, LanguageTag, NewOrganization, OrgId, OrgSlug, OrgStatus,
    Organization, OrganizationSummary, Role, TimeZoneName,
};
use loyalty_core::store::{
    Member, NewMember, OnboardingClaim, OrgStore, StoreError, new_id, org_status_audit,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

const ORG_COLUMNS: &str = "id, name, slug, COALESCE(authentik_group_prefix, slug) AS group_prefix, status, plan, \
     country, timezone, language, currency, contact_name, contact_email, contact_phone, custom_domain, \
     contract_start, deployment_type, users_estimate, settings, created_at, updated_at, \
     points_per_unit, min_purchase, expiry_days, join_enabled, mail_points_receipt, \
     purchase_bound, daily_points_flag, offline_redeem_limit, program";

/// The organization columns qualified with the alias `o`, for joins.
pub(crate) static ORG_COLUMNS_O: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    ORG_COLUMNS
        .split(", ")
        .filter(|c| !c.trim().starts_with("slug)"))
        .map(|c| match c.trim() {
            c if c.starts_with("COALESCE") => {
                "COALESCE(o.authentik_group_prefix, o.slug) AS group_prefix".to_owned()
            }
            c => format!("o.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
});

pub(crate) fn org_from_row(row: &SqliteRow) -> Result<Organization, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let settings: String = row.try_get("settings")?;
    let contract_start: Option<String> = row.try_get("contract_start")?;
    Ok(Organization {
        id: OrgId(uuid_col(row, "id")?),
        name: row.try_get("name")?,
        slug: parsed(row, "slug", OrgSlug::parse)?,
        group_prefix: row.try_get("group_prefix")?,
        status: OrgStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown organization status {status:?}").into())
        })?,
        plan: row.try_get("plan")?,
        country: row
            .try_get::<Option<String>, _>("country")?
            .map(|c| decode_field("country", CountryCode::parse(&c)))
            .transpose()?,
        timezone: parsed(row, "timezone", TimeZoneName::parse)?,
        language: parsed(row, "language", LanguageTag::parse)?,
        currency: parsed(row, "currency", CurrencyCode::parse)?,
        contact_name: row.try_get("contact_name")?,
        contact_email: row.try_get("contact_email")?,
        contact_phone: row.try_get("contact_phone")?,
        custom_domain: row.try_get("custom_domain")?,
        contract_start: contract_start
            .map(|d| {
                decode(
                    "contract_start",
                    Date::parse(
                        &d,
                        time::macros::format_description!("[year]-[month]-[day]"),
                    ),
                )
            })
            .transpose()?,
        deployment_type: row.try_get("deployment_type")?,
        users_estimate: row.try_get("users_estimate")?,
        settings: decode("settings", serde_json::from_str(&settings))?,
        earning: loyalty_core::domain::points::EarningRule {
            points_per_unit: decimal_col(row, "points_per_unit")?,
            min_purchase: decimal_col(row, "min_purchase")?,
        },
        expiry_days: row.try_get("expiry_days")?,
        join_enabled: row.try_get("join_enabled")?,
        purchase_bound: row
            .try_get::<Option<String>, _>("purchase_bound")?
            .map(|s| decode("purchase_bound", s.parse::<rust_decimal::Decimal>()))
            .transpose()?,
        daily_points_flag: row.try_get("daily_points_flag")?,
        offline_redeem_limit: row.try_get("offline_redeem_limit")?,
        points_receipts: row.try_get("mail_points_receipt")?,
        program: decode(
            "program",
            serde_json::from_str(&row.try_get::<String, _>("program")?),
        )?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_ts(&row.try_get::<String, _>("updated_at")?)?,
    })
}

pub(crate) const MEMBER_COLUMNS: &str =
    "id, organization_id, identity_subject, role, status, email, name, created_at";

pub(crate) fn member_from_row(row: &SqliteRow) -> Result<Member, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        id: uuid_col(row, "id")?,
        organization_id: OrgId(uuid_col(row, "organization_id")?),
        identity_subject: row.try_get("identity_subject")?,
        role: Role::parse(&role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?,
        status: row.try_get("status")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
    })
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn insert_organization(
        &self,
        new: &NewOrganization,
        status: OrgStatus,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError> {
        let sql = format!(
            "INSERT INTO organizations (id, name, slug, authentik_group_prefix, status, plan, settings, country, \
             timezone, language, currency, contact_name, contact_email, contact_phone, custom_domain, \
             contract_start, deployment_type, users_estimate, created_at, updated_at) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?19) RETURNING {ORG_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id().to_string())
            .bind(new.name.as_str())
            .bind(new.slug.as_str())
            .bind(&new.group_prefix)
            .bind(status.as_str())
            .bind(new.plan.as_str())
            .bind(new.settings.to_string())
            .bind(new.country.as_ref().map(|c| c.as_str()))
            .bind(new.timezone.as_str())
            .bind(new.language.as_str())
            .bind(new.currency.as_str())
            .bind(new.contact_name.as_ref().map(|c| c.as_str()))
            .bind(new.contact_email.as_ref().map(|c| c.as_str()))
            .bind(new.contact_phone.as_ref().map(|c| c.as_str()))
            .bind(&new.custom_domain)
            .bind(new.contract_start.map(|d| d.to_string()))
            .bind(&new.deployment_type)
            .bind(new.users_estimate)
            .bind(ts(now))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        org_from_row(&row).map_err(map_err)
    }

    async fn organization_by_slug(
        &self,
        slug: &OrgSlug,
    ) -> Result<Option<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE slug = ?1 AND deleted_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(org_from_row).transpose().map_err(map_err)
    }

    async fn organizations_by_group_prefix(
        &self,
        prefixes: &[String],
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations \
             WHERE COALESCE(authentik_group_prefix, slug) IN (SELECT value FROM json_each(?1)) AND deleted_at IS NULL ORDER BY slug"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::to_string(prefixes).map_err(StoreError::backend)?)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(org_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn list_organizations(&self) -> Result<Vec<OrganizationSummary>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS}, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'admin') AS admins, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'cashier') AS cashiers, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'customer') AS customers \
             FROM organizations o WHERE deleted_at IS NULL ORDER BY slug"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(OrganizationSummary {
                    org: org_from_row(row)?,
                    admins: row.try_get("admins")?,
                    cashiers: row.try_get("cashiers")?,
                    customers: row.try_get("customers")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn claim_onboarding(
        &self,
        slug: &OrgSlug,
        run: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<OnboardingClaim, StoreError> {
        let claimed = sqlx::query(
            "UPDATE organizations SET onboarding_claim = ?2, onboarding_claim_until = ?3 \
             WHERE slug = ?1 AND deleted_at IS NULL AND status = 'onboarding' \
               AND (onboarding_claim IS NULL OR onboarding_claim = ?2 OR onboarding_claim_until < ?4)",
        )
        .bind(slug.as_str())
        .bind(run)
        .bind(ts(until))
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if claimed.rows_affected() == 1 {
            return Ok(OnboardingClaim::Claimed);
        }
        let held: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, onboarding_claim_until FROM organizations WHERE slug = ?1 AND deleted_at IS NULL",
        )
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(match held {
            Some((status, Some(until))) if status == OrgStatus::Onboarding.as_str() => {
                OnboardingClaim::Held {
                    until: parse_ts(&until).map_err(map_err)?,
                }
            }
            _ => OnboardingClaim::NotOnboarding,
        })
    }

    async fn release_onboarding(&self, slug: &OrgSlug, run: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE organizations SET onboarding_claim = NULL, onboarding_claim_until = NULL \
             WHERE slug = ?1 AND onboarding_claim = ?2",
        )
        .bind(slug.as_str())
        .bind(run)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn set_organization_status(
        &self,
        slug: &OrgSlug,
        from: &[OrgStatus],
        to: OrgStatus,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Organization>, StoreError> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let before: Option<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM organizations WHERE slug = ?1 AND deleted_at IS NULL",
        )
        .bind(slug.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some((id, status)) = before else {
            return Ok(None);
        };
        let org_id = Uuid::parse_str(&id).map_err(StoreError::backend)?;
        if from.contains(&status.as_str()) {
            sqlx::query("UPDATE organizations SET status = ?2, updated_at = ?3 WHERE id = ?1")
                .bind(&id)
                .bind(to.as_str())
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            insert_audit(
                &mut tx,
                &org_status_audit(OrgId(org_id), slug, actor, &status, to, now),
            )
            .await?;
        }
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let org = org_from_row(&row).map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(org))
    }

    async fn upsert_member(
        &self,
        org: OrgId,
        member: &NewMember,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError> {
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?8) \
             ON CONFLICT (organization_id, identity_subject) DO UPDATE SET \
               role = excluded.role, email = COALESCE(excluded.email, users.email), \
               name = COALESCE(excluded.name, users.name), updated_at = excluded.updated_at \
             RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id().to_string())
            .bind(org.0.to_string())
            .bind(&member.identity_subject)
            .bind(member.role.as_str())
            .bind(&member.email)
            .bind(&member.name)
            .bind(member.created_by.map(|u| u.to_string()))
            .bind(ts(now))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        member_from_row(&row).map_err(map_err)
    }

    async fn member_by_subject(
        &self,
        org: OrgId,
        subject: &str,
    ) -> Result<Option<Member>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM users WHERE organization_id = ?1 AND identity_subject = ?2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(member_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn list_members(
        &self,
        org: OrgId,
        role: Option<Role>,
    ) -> Result<Vec<Member>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM users WHERE organization_id = ?1 AND (?2 IS NULL OR role = ?2) \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(role.map(Role::as_str))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(member_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
