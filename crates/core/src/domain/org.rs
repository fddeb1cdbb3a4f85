//! Organizations: the tenants of an installation.

use super::{
    CountryCode, CurrencyCode, Email, LanguageTag, OrgSlug, PersonName, Phone, TimeZoneName,
};
use crate::error::FieldError;
use rust_decimal::Decimal;
use std::fmt;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// An organization's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgId(pub Uuid);

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An organization's display name: 1-255 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    /// Parses an organization name.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() || s.chars().count() > 255 || s.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must be 1-255 characters without line breaks, such as \"NextDoor Market\"",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lifecycle state of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    /// Being onboarded: not usable until onboarding finishes.
    Onboarding,
    /// In service.
    Active,
    /// Switched off by the operator; data kept.
    Suspended,
}

impl OrgStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Onboarding => "onboarding",
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "onboarding" => Some(OrgStatus::Onboarding),
            "active" => Some(OrgStatus::Active),
            "suspended" => Some(OrgStatus::Suspended),
            _ => None,
        }
    }

    /// The audit action of a move from `self` to `to`: `org.onboard` (onboarding
    /// finished), `org.suspend`, `org.reactivate`, or `org.status` for any other move.
    pub fn change_action(self, to: OrgStatus) -> &'static str {
        match (self, to) {
            (OrgStatus::Onboarding, OrgStatus::Active) => "org.onboard",
            (_, OrgStatus::Suspended) => "org.suspend",
            (OrgStatus::Suspended, OrgStatus::Active) => "org.reactivate",
            _ => "org.status",
        }
    }
}

impl fmt::Display for OrgStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Commercial plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The standard plan.
    #[default]
    Basic,
    /// The premium plan.
    Premium,
}

impl Plan {
    /// Parses `basic` or `premium` (any case).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "basic" => Ok(Plan::Basic),
            "premium" => Ok(Plan::Premium),
            other => Err(FieldError::new(
                "plan",
                format!("{other:?} is not a plan; write basic or premium"),
            )),
        }
    }

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Premium => "premium",
        }
    }
}

/// Everything needed to create an organization, already validated.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Display name.
    pub name: OrgName,
    /// URL and group-name slug.
    pub slug: OrgSlug,
    /// Prefix of the organization's groups; equal to the slug unless set otherwise.
    pub group_prefix: String,
    /// Commercial plan.
    pub plan: Plan,
    /// Country, when known.
    pub country: Option<CountryCode>,
    /// Time zone for reports and dates.
    pub timezone: TimeZoneName,
    /// Default language of pages and mail.
    pub language: LanguageTag,
    /// Currency of purchases.
    pub currency: CurrencyCode,
    /// Client's contact person.
    pub contact_name: Option<PersonName>,
    /// Client's contact address.
    pub contact_email: Option<Email>,
    /// Client's contact phone.
    pub contact_phone: Option<Phone>,
    /// A domain that routes to this organization.
    pub custom_domain: Option<String>,
    /// Contract start date.
    pub contract_start: Option<Date>,
    /// `multi-tenant` or `single-tenant`.
    pub deployment_type: Option<String>,
    /// Expected number of users.
    pub users_estimate: Option<i32>,
    /// Free-form settings (SMTP provider, backup schedule ...).
    pub settings: serde_json::Value,
}

/// An organization as stored. The codes (slug, country, time zone, language, currency)
/// are parsed once when the store reads the row, so nothing downstream checks them
/// again; a row that does not parse (an operator may write rows with SQL, runbook step
/// 2.1) is a storage error naming the column. Free-form text is kept as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Organization {
    /// Id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Slug.
    pub slug: OrgSlug,
    /// Group prefix (the slug when the row left it empty).
    pub group_prefix: String,
    /// Lifecycle state.
    pub status: OrgStatus,
    /// Plan.
    pub plan: String,
    /// Country.
    pub country: Option<CountryCode>,
    /// Time zone.
    pub timezone: TimeZoneName,
    /// Language.
    pub language: LanguageTag,
    /// Currency.
    pub currency: CurrencyCode,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact address.
    pub contact_email: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<String>,
    /// Custom domain.
    pub custom_domain: Option<String>,
    /// Contract start.
    #[serde(serialize_with = "iso_date")]
    pub contract_start: Option<Date>,
    /// Deployment type.
    pub deployment_type: Option<String>,
    /// Expected users.
    pub users_estimate: Option<i32>,
    /// Settings.
    pub settings: serde_json::Value,
    /// Earning rule.
    pub earning: super::points::EarningRule,
    /// Days after earning when points expire; `None` for never.
    pub expiry_days: Option<i32>,
    /// Whether the public join page is open.
    pub join_enabled: bool,
    /// The largest usual purchase set by an admin; `None` derives it from recent
    /// purchases (`service::bound`).
    pub purchase_bound: Option<Decimal>,
    /// Points per customer per day above which the dashboard flags the customer;
    /// `None` for the default.
    pub daily_points_flag: Option<i64>,
    /// Points a customer may redeem offline per day at a till, against the balance the
    /// till last synced; 0 refuses redemptions offline (`service::till`).
    #[serde(skip)]
    pub offline_redeem_limit: i64,
    /// Whether customers get a mail receipt for each award (the organization's mail
    /// settings); read with the organization so an award without receipts pays no query.
    #[serde(skip)]
    pub points_receipts: bool,
    /// The loyalty program (stamp cards, promotions) at its current version; read with
    /// the organization so a plain award pays no query for it.
    #[serde(skip)]
    pub program: super::program::Program,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An organization with its member counts, for listings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrganizationSummary {
    /// The organization.
    #[serde(flatten)]
    pub org: Organization,
    /// Active admins.
    pub admins: i64,
    /// Active cashiers.
    pub cashiers: i64,
    /// Active customers.
    pub customers: i64,
}

fn iso_date<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.to_string()),
        None => s.serialize_none(),
    }
}
