//! Storage behind the operator console: every shop's figures for one page of the list
//! (one query per page, whatever the number of shops), and the organization checks run
//! from the console, kept with their time.

use crate::domain::{OrgId, OrgStatus, OrganizationSummary};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// The order of the console's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleSort {
    /// By name (then slug).
    #[default]
    Name,
    /// By slug.
    Slug,
    /// By onboarding time.
    Onboarded,
    /// By awards today.
    AwardsToday,
    /// By awards in the last 30 days.
    #[serde(rename = "awards_30d")]
    Awards30d,
    /// By last activity (shops without any last).
    LastActivity,
}

impl ConsoleSort {
    /// Every order, for forms.
    pub const ALL: [ConsoleSort; 6] = [
        ConsoleSort::Name,
        ConsoleSort::Slug,
        ConsoleSort::Onboarded,
        ConsoleSort::AwardsToday,
        ConsoleSort::Awards30d,
        ConsoleSort::LastActivity,
    ];

    /// The value in the address (`?sort=awards_today`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleSort::Name => "name",
            ConsoleSort::Slug => "slug",
            ConsoleSort::Onboarded => "onboarded",
            ConsoleSort::AwardsToday => "awards_today",
            ConsoleSort::Awards30d => "awards_30d",
            ConsoleSort::LastActivity => "last_activity",
        }
    }
}

/// Which shops, in which order, which page.
#[derive(Debug, Clone, Default)]
pub struct ConsoleFilter {
    /// Part of the name or slug, compared without case (already lower-cased and trimmed).
    pub search: Option<String>,
    /// Only this status.
    pub status: Option<OrgStatus>,
    /// Only this plan.
    pub plan: Option<String>,
    /// Order.
    pub sort: ConsoleSort,
    /// Descending.
    pub descending: bool,
    /// Rows skipped.
    pub offset: u32,
    /// Rows at most; `None` for all.
    pub limit: Option<u32>,
}

/// The time windows the figures count in.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleWindows {
    /// Start of the last 24 hours (the "awards today" column).
    pub today: OffsetDateTime,
    /// Start of the 30 days.
    pub days_30: OffsetDateTime,
}

/// The latest organization checks of a shop, counted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChecksSummary {
    /// When they ran.
    #[serde(with = "time::serde::rfc3339")]
    pub ran_at: OffsetDateTime,
    /// Who ran them.
    pub ran_by: String,
    /// `ok`, `warn` or `fail`: the worst outcome.
    pub worst: String,
    /// Passed.
    pub ok: i64,
    /// Warnings.
    pub warn: i64,
    /// Failures.
    pub fail: i64,
}

/// One shop with its figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShopFigures {
    /// The organization and its member counts.
    #[serde(flatten)]
    pub summary: OrganizationSummary,
    /// Purchases recorded since the start of today.
    pub awards_today: i64,
    /// Purchases recorded in the last 30 days.
    pub awards_30d: i64,
    /// The newest ledger entry's time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_activity: Option<OffsetDateTime>,
    /// Items of the post-handoff checklist ticked (as stored).
    pub checklist_done: i64,
    /// The latest organization checks, if any ran.
    pub checks: Option<ChecksSummary>,
}

/// One page of the console.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsolePage {
    /// The shops of this page.
    pub shops: Vec<ShopFigures>,
    /// How many shops match the filter (0 when the page is past the end).
    pub total: i64,
}

/// One run of an organization's checks, to keep.
#[derive(Debug, Clone)]
pub struct OrgCheckRun {
    /// Row id.
    pub id: Uuid,
    /// When.
    pub ran_at: OffsetDateTime,
    /// Who (the operator's username).
    pub ran_by: String,
    /// `ok`, `warn` or `fail`.
    pub worst: String,
    /// Passed.
    pub ok: i64,
    /// Warnings.
    pub warn: i64,
    /// Failures.
    pub fail: i64,
    /// Every check as the doctor's JSON shows it.
    pub results: serde_json::Value,
}

/// The operator console's storage.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// One page of shops with their figures, in one query, and how many match.
    async fn console_page(
        &self,
        filter: &ConsoleFilter,
        windows: ConsoleWindows,
    ) -> Result<ConsolePage, StoreError>;

    /// Keeps a run of an organization's checks.
    async fn record_org_checks(&self, org: OrgId, run: &OrgCheckRun) -> Result<(), StoreError>;

    /// The latest kept run of an organization's checks.
    async fn latest_org_checks(&self, org: OrgId) -> Result<Option<OrgCheckRun>, StoreError>;
}
