//! The operator console's page of shops and the kept organization checks on SQLite.

use crate::orgs::{ORG_COLUMNS_O, org_from_row};
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::{OrgId, OrganizationSummary};
use loyalty_core::store::{
    ChecksSummary, ConsoleFilter, ConsolePage, ConsoleSort, ConsoleStore, ConsoleWindows,
    OrgCheckRun, ShopFigures, StoreError,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The ORDER BY of a filter: the chosen column, then the slug, so pages never overlap.
fn order_by(filter: &ConsoleFilter) -> String {
    let dir = if filter.descending { "DESC" } else { "ASC" };
    match filter.sort {
        ConsoleSort::Name => format!("lower(o.name) {dir}, o.slug"),
        ConsoleSort::Slug => format!("o.slug {dir}"),
        ConsoleSort::Onboarded => format!("o.created_at {dir}, o.slug"),
        ConsoleSort::AwardsToday => format!("awards_today {dir}, o.slug"),
        ConsoleSort::Awards30d => format!("awards_30d {dir}, o.slug"),
        ConsoleSort::LastActivity => format!("last_activity {dir} NULLS LAST, o.slug"),
    }
}

fn shop_from_row(row: &SqliteRow) -> Result<ShopFigures, sqlx::Error> {
    let last: Option<String> = row.try_get("last_activity")?;
    let ran_at: Option<String> = row.try_get("checks_ran_at")?;
    let checks = match ran_at {
        Some(at) => Some(ChecksSummary {
            ran_at: parse_ts(&at)?,
            ran_by: row.try_get("checks_ran_by")?,
            worst: row.try_get("checks_worst")?,
            ok: row.try_get("checks_ok")?,
            warn: row.try_get("checks_warn")?,
            fail: row.try_get("checks_fail")?,
        }),
        None => None,
    };
    Ok(ShopFigures {
        summary: OrganizationSummary {
            org: org_from_row(row)?,
            admins: row.try_get("admins")?,
            cashiers: row.try_get("cashiers")?,
            customers: row.try_get("customers")?,
        },
        awards_today: row.try_get("awards_today")?,
        awards_30d: row.try_get("awards_30d")?,
        last_activity: last.as_deref().map(parse_ts).transpose()?,
        checklist_done: row.try_get("checklist_done")?,
        checks,
    })
}

fn run_from_row(row: &SqliteRow) -> Result<OrgCheckRun, sqlx::Error> {
    let results: String = row.try_get("results")?;
    Ok(OrgCheckRun {
        id: crate::rows::uuid_col(row, "id")?,
        ran_at: parse_ts(&row.try_get::<String, _>("ran_at")?)?,
        ran_by: row.try_get("ran_by")?,
        worst: row.try_get("worst")?,
        ok: row.try_get("ok_count")?,
        warn: row.try_get("warn_count")?,
        fail: row.try_get("fail_count")?,
        results: serde_json::from_str(&results)
            .map_err(|e| sqlx::Error::Decode(format!("column results: {e}").into()))?,
    })
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn console_page(
        &self,
        filter: &ConsoleFilter,
        windows: ConsoleWindows,
    ) -> Result<ConsolePage, StoreError> {
        let sql = format!(
            "SELECT {cols}, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'admin') AS admins, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'cashier') AS cashiers, \
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id AND u.status = 'active' AND u.role = 'customer') AS customers, \
               (SELECT count(*) FROM purchases p WHERE p.organization_id = o.id AND p.created_at >= ?1) AS awards_today, \
               (SELECT count(*) FROM purchases p WHERE p.organization_id = o.id AND p.created_at >= ?2) AS awards_30d, \
               (SELECT max(t.created_at) FROM points_transactions t WHERE t.organization_id = o.id) AS last_activity, \
               (SELECT count(*) FROM org_checklist c WHERE c.organization_id = o.id) AS checklist_done, \
               r.ran_at AS checks_ran_at, r.ran_by AS checks_ran_by, r.worst AS checks_worst, \
               r.ok_count AS checks_ok, r.warn_count AS checks_warn, r.fail_count AS checks_fail, \
               count(*) OVER () AS total \
             FROM organizations o \
             LEFT JOIN org_check_runs r ON r.id = (SELECT r2.id FROM org_check_runs r2 \
                 WHERE r2.organization_id = o.id ORDER BY r2.ran_at DESC, r2.id DESC LIMIT 1) \
             WHERE o.deleted_at IS NULL \
               AND (?3 IS NULL OR instr(lower(o.name), ?3) > 0 OR instr(o.slug, ?3) > 0) \
               AND (?4 IS NULL OR o.status = ?4) \
               AND (?5 IS NULL OR o.plan = ?5) \
             ORDER BY {order} LIMIT ?6 OFFSET ?7",
            cols = *ORG_COLUMNS_O,
            order = order_by(filter),
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(windows.today))
            .bind(ts(windows.days_30))
            .bind(filter.search.as_deref())
            .bind(filter.status.map(|s| s.as_str()))
            .bind(filter.plan.as_deref())
            .bind(filter.limit.map_or(-1, i64::from))
            .bind(i64::from(filter.offset))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let total = match rows.first() {
            Some(row) => row.try_get("total").map_err(map_err)?,
            None => 0,
        };
        let shops = rows
            .iter()
            .map(shop_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        Ok(ConsolePage { shops, total })
    }

    async fn record_org_checks(&self, org: OrgId, run: &OrgCheckRun) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO org_check_runs (id, organization_id, ran_at, ran_by, worst, ok_count, warn_count, fail_count, results) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(run.id.to_string())
        .bind(org.0.to_string())
        .bind(ts(run.ran_at))
        .bind(&run.ran_by)
        .bind(&run.worst)
        .bind(run.ok)
        .bind(run.warn)
        .bind(run.fail)
        .bind(run.results.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn latest_org_checks(&self, org: OrgId) -> Result<Option<OrgCheckRun>, StoreError> {
        let row = sqlx::query(
            "SELECT id, ran_at, ran_by, worst, ok_count, warn_count, fail_count, results \
             FROM org_check_runs WHERE organization_id = ?1 ORDER BY ran_at DESC, id DESC LIMIT 1",
        )
        .bind(org.0.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(run_from_row).transpose().map_err(map_err)
    }
}
