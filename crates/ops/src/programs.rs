//! The program job `serve` runs on whichever instance holds its lease: for every active
//! organization with tiers or a birthday bonus, the tier recalculation and the birthday
//! bonuses (`core::service::tiers`). Also one pass on demand (`loyalty program run`).

use loyalty_core::clock::Clock;
use loyalty_core::domain::OrgStatus;
use loyalty_core::service::tiers::{self, TierReport};
use loyalty_core::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The name of the job's lease in `job_leases`.
pub const LEASE: &str = "programs.daily";

/// What one pass did in one organization.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrgPass {
    /// The tier recalculation.
    pub tiers: TierReport,
    /// Customers who got their birthday bonus.
    pub birthdays: u64,
}

/// One pass over every active organization (or only `only`, a slug). An organization
/// whose pass fails is logged and skipped; the others go on.
pub async fn run_once(
    store: &dyn Store,
    clock: &dyn Clock,
    only: Option<&str>,
) -> anyhow::Result<Vec<OrgPass>> {
    let mut out = Vec::new();
    for s in store.list_organizations().await? {
        let org = &s.org;
        if org.status != OrgStatus::Active || only.is_some_and(|o| o != org.slug.as_str()) {
            continue;
        }
        if org.program.tiers.is_empty() && org.program.bonuses.birthday_points <= 0 {
            continue;
        }
        let tiers = match tiers::recalculate(store, clock, org).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(org = %org.slug, error = %e, "tier recalculation failed for an organization");
                continue;
            }
        };
        let birthdays = match tiers::birthday_bonuses(store, clock, org).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(org = %org.slug, error = %e, "birthday bonuses failed for an organization");
                0
            }
        };
        out.push(OrgPass { tiers, birthdays });
    }
    Ok(out)
}

/// The job `serve` runs: a pass every `every`, on whichever instance holds the lease, so
/// several instances against one database run it once.
pub async fn job(store: Arc<dyn Store>, clock: Arc<dyn Clock>, every: Duration) {
    let holder = loyalty_core::secret::random_token();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        let lease = time::Duration::seconds(i64::try_from(every.as_secs()).unwrap_or(3600).max(60));
        match store.try_lease(LEASE, &holder, now, now + lease).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "program job: cannot take its lease");
                continue;
            }
        }
        match run_once(store.as_ref(), clock.as_ref(), None).await {
            Ok(passes) => {
                for p in passes
                    .iter()
                    .filter(|p| p.tiers.up + p.tiers.down + p.birthdays > 0)
                {
                    tracing::info!(
                        org = %p.tiers.org,
                        up = p.tiers.up,
                        down = p.tiers.down,
                        birthdays = p.birthdays,
                        millis = p.tiers.millis as u64,
                        "program job moved customers between tiers or gave birthday bonuses"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "program job failed"),
        }
    }
}
