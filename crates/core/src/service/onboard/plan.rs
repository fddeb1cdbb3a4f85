//! The onboarding input as a person gives it and its checked form, the plan: every field
//! is validated, all errors are collected, and nothing is written.

use crate::Error;
use crate::domain::{
    CountryCode, CurrencyCode, Email, LanguageTag, NewOrganization, OrgName, OrgSlug, PersonName,
    Phone, Plan, TimeZoneName, Username,
};
use crate::error::FieldError;
use time::Date;

/// Onboarding input as given by a person (flags or the pre-onboarding YAML), unchecked.
#[derive(Debug, Clone, Default)]
pub struct OnboardInput {
    /// Organization name.
    pub name: Option<String>,
    /// Organization slug.
    pub slug: Option<String>,
    /// First admin's email.
    pub admin_email: Option<String>,
    /// First admin's name.
    pub admin_name: Option<String>,
    /// First admin's phone.
    pub admin_phone: Option<String>,
    /// Plan (`basic` when absent).
    pub plan: Option<String>,
    /// Country (ISO 3166 alpha-2).
    pub country: Option<String>,
    /// Time zone (`UTC` when absent).
    pub timezone: Option<String>,
    /// Language (`en-US` when absent).
    pub language: Option<String>,
    /// Currency (from the country when absent, else `USD`).
    pub currency: Option<String>,
    /// Group prefix (the slug when absent).
    pub group_prefix: Option<String>,
    /// `multi-tenant` or `single-tenant`.
    pub deployment_type: Option<String>,
    /// Contract start, `YYYY-MM-DD`.
    pub contract_start: Option<String>,
    /// Expected users.
    pub users_estimate: Option<i64>,
    /// Custom domain.
    pub custom_domain: Option<String>,
    /// `sendgrid`, `ses` or `smtp`.
    pub smtp_provider: Option<String>,
    /// `daily` or `weekly`.
    pub backup_schedule: Option<String>,
    /// Field names to report errors under (YAML keys), when they differ from flag names.
    pub field_names: std::collections::HashMap<&'static str, String>,
}

/// How the first admin gets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialMode {
    /// A one-time link to set a password (the default; never a plain password by mail).
    #[default]
    Link,
    /// A generated strong password, shown once, to be changed at first sign-in.
    Password,
}

/// Validated onboarding input.
#[derive(Debug, Clone)]
pub struct OnboardPlan {
    /// The organization to create.
    pub org: NewOrganization,
    /// First admin's username (`{slug}_admin`, as in the runbook).
    pub admin_username: Username,
    /// First admin's email.
    pub admin_email: Email,
    /// First admin's name.
    pub admin_name: PersonName,
    /// Who onboards, for the audit log: the operator's name (`operator` unless the
    /// caller sets it).
    pub operator: String,
}

impl OnboardInput {
    /// Validates every field, collecting all errors, and writes nothing.
    pub fn validate(&self) -> Result<OnboardPlan, Error> {
        let mut errors: Vec<FieldError> = Vec::new();
        let field = |name: &'static str| -> String {
            self.field_names
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.replace('_', "-"))
        };
        let required = |value: &Option<String>,
                        name: &'static str,
                        errors: &mut Vec<FieldError>| {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Some(v.to_owned()),
                _ => {
                    errors.push(FieldError::new(field(name), "is required"));
                    None
                }
            }
        };
        let name = required(&self.name, "name", &mut errors)
            .and_then(|v| check(OrgName::parse(&v), field("name"), &mut errors));
        let slug = required(&self.slug, "slug", &mut errors)
            .and_then(|v| check(OrgSlug::parse(&v), field("slug"), &mut errors));
        let admin_email = required(&self.admin_email, "admin_email", &mut errors)
            .and_then(|v| check(Email::parse(&v), field("admin_email"), &mut errors));
        let admin_name = required(&self.admin_name, "admin_name", &mut errors)
            .and_then(|v| check(PersonName::parse(&v), field("admin_name"), &mut errors));
        let admin_phone = opt(&self.admin_phone)
            .and_then(|v| check(Phone::parse(&v), field("admin_phone"), &mut errors));
        let plan = opt(&self.plan).map_or(Some(Plan::Basic), |v| {
            check(Plan::parse(&v), field("plan"), &mut errors)
        });
        let country = opt(&self.country)
            .and_then(|v| check(CountryCode::parse(&v), field("country"), &mut errors));
        let timezone = opt(&self.timezone).map_or(Some(TimeZoneName::utc()), |v| {
            check(TimeZoneName::parse(&v), field("timezone"), &mut errors)
        });
        let language = opt(&self.language).map_or_else(
            || LanguageTag::parse("en-US").ok(),
            |v| check(LanguageTag::parse(&v), field("language"), &mut errors),
        );
        let currency = match opt(&self.currency) {
            Some(v) => check(CurrencyCode::parse(&v), field("currency"), &mut errors),
            None => country
                .as_ref()
                .and_then(CountryCode::default_currency)
                .or_else(|| CurrencyCode::parse("USD").ok()),
        };
        let group_prefix = match opt(&self.group_prefix) {
            Some(v) => check(OrgSlug::parse(&v), field("group_prefix"), &mut errors)
                .map(|s| s.as_str().to_owned()),
            None => slug.as_ref().map(|s| s.as_str().to_owned()),
        };
        let deployment_type = opt(&self.deployment_type).and_then(|v| {
            let v = v.to_ascii_lowercase();
            check(
                one_of(&v, &["multi-tenant", "single-tenant"], "deployment_type"),
                field("deployment_type"),
                &mut errors,
            )
        });
        let contract_start = opt(&self.contract_start).and_then(|v| {
            check(
                Date::parse(
                    &v,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| {
                    FieldError::new(
                        "contract_start",
                        format!("{v:?} is not a date; write it as YYYY-MM-DD, such as 2025-01-01"),
                    )
                }),
                field("contract_start"),
                &mut errors,
            )
        });
        let users_estimate = match self.users_estimate {
            Some(n) if !(0..=10_000_000).contains(&n) => {
                errors.push(FieldError::new(
                    field("users_estimate"),
                    format!("{n} is out of range; write a whole number from 0 to 10000000"),
                ));
                None
            }
            Some(n) => i32::try_from(n).ok(),
            None => None,
        };
        let custom_domain = opt(&self.custom_domain)
            .and_then(|v| check(parse_domain(&v), field("custom_domain"), &mut errors));
        let smtp_provider = opt(&self.smtp_provider).and_then(|v| {
            check(
                one_of(
                    &v.to_ascii_lowercase(),
                    &["sendgrid", "ses", "smtp"],
                    "smtp_provider",
                ),
                field("smtp_provider"),
                &mut errors,
            )
        });
        let backup_schedule = opt(&self.backup_schedule).and_then(|v| {
            check(
                one_of(
                    &v.to_ascii_lowercase(),
                    &["daily", "weekly"],
                    "backup_schedule",
                ),
                field("backup_schedule"),
                &mut errors,
            )
        });

        match (
            name,
            slug,
            admin_email,
            admin_name,
            plan,
            timezone,
            language,
            currency,
            group_prefix,
        ) {
            (
                Some(name),
                Some(slug),
                Some(admin_email),
                Some(admin_name),
                Some(plan),
                Some(timezone),
                Some(language),
                Some(currency),
                Some(group_prefix),
            ) if errors.is_empty() => {
                let mut settings = serde_json::Map::new();
                if let Some(p) = smtp_provider {
                    settings.insert("smtp_provider".into(), p.into());
                }
                if let Some(b) = backup_schedule {
                    settings.insert("backup_schedule".into(), b.into());
                }
                Ok(OnboardPlan {
                    admin_username: Username::org_admin(&slug),
                    org: NewOrganization {
                        name,
                        slug,
                        group_prefix,
                        plan,
                        country,
                        timezone,
                        language,
                        currency,
                        contact_name: Some(admin_name.clone()),
                        contact_email: Some(admin_email.clone()),
                        contact_phone: admin_phone,
                        custom_domain,
                        contract_start,
                        deployment_type,
                        users_estimate,
                        settings: serde_json::Value::Object(settings),
                    },
                    admin_email,
                    admin_name,
                    operator: "operator".into(),
                })
            }
            _ => Err(Error::Validation(errors)),
        }
    }
}

fn check<T>(r: Result<T, FieldError>, field: String, errors: &mut Vec<FieldError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e.renamed(field));
            None
        }
    }
}

fn opt(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn one_of(v: &str, allowed: &[&str], field: &str) -> Result<String, FieldError> {
    if allowed.contains(&v) {
        Ok(v.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{v:?} is not allowed; write one of: {}", allowed.join(", ")),
        ))
    }
}

fn parse_domain(v: &str) -> Result<String, FieldError> {
    let d = v.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err(FieldError::new(
            "custom_domain",
            format!(
                "{v:?} is not a host name; write one such as app.nextdoormarket.com (no scheme, no path)"
            ),
        ))
    }
}
