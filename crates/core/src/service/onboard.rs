//! Onboarding a client organization in one command: the runbook's steps 2-4.
//!
//! Everything is validated before anything is written. Every step is find-or-create, so
//! a run that failed half-way is completed by running it again, and a run after success
//! changes nothing. Until the last step the organization is in status `onboarding`, which
//! no request can use, so a half-finished onboarding is never an active organization.

use crate::clock::Clock;
use crate::directory::{self, DirGroup, DirUser, Directory, NewDirUser, Outcome};
use crate::domain::ledger::Actor;
use crate::domain::{
    CountryCode, CurrencyCode, Email, GroupName, LanguageTag, NewOrganization, OrgName, OrgSlug,
    OrgStatus, Organization, PersonName, Phone, Plan, Role, TimeZoneName, Username,
};
use crate::error::{Error, ErrorCode, FieldError};
use crate::secret;
use crate::store::{NewMember, Store, StoreError};
use secrecy::SecretString;
use std::time::Instant;
use time::{Date, OffsetDateTime};

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

/// The steps of onboarding, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Organization row, in status `onboarding`.
    CreateOrganization,
    /// `{prefix}-admins`.
    CreateAdminsGroup,
    /// `{prefix}-cashiers`.
    CreateCashiersGroup,
    /// `{prefix}-customers`.
    CreateCustomersGroup,
    /// The first admin's account.
    CreateAdminUser,
    /// The admin in `{prefix}-admins`.
    AddAdminToGroup,
    /// The admin's `users` row.
    RecordAdminMembership,
    /// The one-time link or generated password.
    IssueCredential,
    /// Status `active`.
    ActivateOrganization,
}

impl Step {
    /// Every step in order.
    pub const ALL: [Step; 9] = [
        Step::CreateOrganization,
        Step::CreateAdminsGroup,
        Step::CreateCashiersGroup,
        Step::CreateCustomersGroup,
        Step::CreateAdminUser,
        Step::AddAdminToGroup,
        Step::RecordAdminMembership,
        Step::IssueCredential,
        Step::ActivateOrganization,
    ];
}

/// Called after each step has done its work. Production uses [`NoHooks`]; tests inject
/// failures here to prove that a re-run completes what a failed run left.
pub trait StepHooks: Send + Sync {
    /// Returns an error to make onboarding fail right after `step`.
    fn after(&self, step: Step) -> Result<(), Error>;
}

/// No hooks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Step {
    /// A short description for people.
    pub fn label(self) -> &'static str {
        match self {
            Step::CreateOrganization => "organization",
            Step::CreateAdminsGroup => "group {prefix}-admins",
            Step::CreateCashiersGroup => "group {prefix}-cashiers",
            Step::CreateCustomersGroup => "group {prefix}-customers",
            Step::CreateAdminUser => "admin account",
            Step::AddAdminToGroup => "admin in admins group",
            Step::RecordAdminMembership => "admin membership row",
            Step::IssueCredential => "first sign-in credential",
            Step::ActivateOrganization => "organization activated",
        }
    }
}

impl StepHooks for NoHooks {
    fn after(&self, _step: Step) -> Result<(), Error> {
        Ok(())
    }
}

/// The admin's first credential.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A one-time link to set a password.
    Link {
        /// The link.
        url: SecretString,
        /// When it expires.
        expires_at: Option<OffsetDateTime>,
    },
    /// A generated password, to be changed at first sign-in.
    Password(SecretString),
    /// None issued: the admin already had a password (an existing account was reused).
    Existing,
}

/// What onboarding did.
#[derive(Debug, Clone)]
pub struct OnboardReport {
    /// The organization, as it is now.
    pub org: Organization,
    /// The three group names.
    pub groups: Vec<String>,
    /// The admin's username.
    pub admin_username: String,
    /// The admin's email.
    pub admin_email: String,
    /// Each step and whether it created something or found it done.
    pub steps: Vec<(Step, Outcome)>,
    /// The credential issued (none when already onboarded).
    pub credential: Option<Credential>,
    /// True when everything was already in place and nothing changed.
    pub already_onboarded: bool,
    /// Wall time taken.
    pub elapsed: std::time::Duration,
}

/// Onboards an organization, or completes an earlier partial run.
pub async fn onboard(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    plan: &OnboardPlan,
    mode: CredentialMode,
    hooks: &dyn StepHooks,
) -> Result<OnboardReport, Error> {
    let started = Instant::now();
    let mut steps = Vec::with_capacity(Step::ALL.len());
    let slug = &plan.org.slug;

    // 1. The organization, in status `onboarding` until the end.
    let org = match store.organization_by_slug(slug).await? {
        Some(org) => {
            steps.push((Step::CreateOrganization, Outcome::Existing));
            org
        }
        None => match store
            .insert_organization(&plan.org, OrgStatus::Onboarding, clock.now())
            .await
        {
            Ok(org) => {
                steps.push((Step::CreateOrganization, Outcome::Created));
                org
            }
            Err(StoreError::Conflict(_)) => {
                steps.push((Step::CreateOrganization, Outcome::Existing));
                store
                    .organization_by_slug(slug)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("organization {:?}", slug.as_str())))?
            }
            Err(e) => return Err(e.into()),
        },
    };
    hooks.after(Step::CreateOrganization)?;
    let prefix = org.group_prefix.clone();

    // 2-4. The three groups.
    let mut groups: Vec<DirGroup> = Vec::with_capacity(3);
    for (role, step) in [
        (Role::Admin, Step::CreateAdminsGroup),
        (Role::Cashier, Step::CreateCashiersGroup),
        (Role::Customer, Step::CreateCustomersGroup),
    ] {
        let name = GroupName::new(&prefix, role).name();
        let attributes = serde_json::json!({
            "loyalty_org": org.slug,
            "loyalty_role": role.as_str(),
            "label": format!("{} {}", org.name, role_label(role)),
            "created_by": "loyalty onboard",
        });
        let (group, outcome) = directory::find_or_create_group(dir, &name, attributes).await?;
        steps.push((step, outcome));
        hooks.after(step)?;
        groups.push(group);
    }
    let admins_group = groups
        .first()
        .cloned()
        .ok_or_else(|| Error::not_found("admins group"))?;

    // 5. The admin account: `{slug}_admin`, or the person's existing account by email.
    let (admin, outcome) = find_or_create_admin(dir, plan, &org).await?;
    steps.push((Step::CreateAdminUser, outcome));
    hooks.after(Step::CreateAdminUser)?;

    // 6. Membership of the admins group.
    let was_member = dir
        .user_groups(admin.pk)
        .await?
        .contains(&admins_group.name);
    if !was_member {
        dir.add_member(&admins_group, admin.pk).await?;
    }
    steps.push((
        Step::AddAdminToGroup,
        if was_member {
            Outcome::Existing
        } else {
            Outcome::Created
        },
    ));
    hooks.after(Step::AddAdminToGroup)?;

    // 7. The admin's row in `users`.
    let existing_member = store.member_by_subject(org.id, &admin.uid).await?;
    let member_done = existing_member
        .as_ref()
        .is_some_and(|m| m.role == Role::Admin);
    if !member_done {
        store
            .upsert_member(
                org.id,
                &NewMember {
                    identity_subject: admin.uid.clone(),
                    role: Role::Admin,
                    email: admin.email.clone(),
                    name: Some(admin.name.clone()),
                    created_by: None,
                },
                clock.now(),
            )
            .await?;
    }
    steps.push((
        Step::RecordAdminMembership,
        if member_done {
            Outcome::Existing
        } else {
            Outcome::Created
        },
    ));
    hooks.after(Step::RecordAdminMembership)?;

    let everything_existed = steps.iter().all(|(_, o)| *o == Outcome::Existing);
    let already_onboarded = everything_existed && org.status != OrgStatus::Onboarding;

    // 8. The first credential, unless the admin can already sign in.
    let credential = if already_onboarded {
        steps.push((Step::IssueCredential, Outcome::Existing));
        None
    } else if admin.has_password == Some(true)
        && outcome == Outcome::Existing
        && mode == CredentialMode::Link
    {
        steps.push((Step::IssueCredential, Outcome::Existing));
        Some(Credential::Existing)
    } else {
        let credential = issue_credential(dir, admin.pk, mode).await?;
        steps.push((Step::IssueCredential, Outcome::Created));
        Some(credential)
    };
    hooks.after(Step::IssueCredential)?;

    // 9. Activation.
    let org = if org.status == OrgStatus::Onboarding {
        let org = store
            .set_organization_status(
                slug,
                &[OrgStatus::Onboarding],
                OrgStatus::Active,
                &Actor::operator(&plan.operator),
                clock.now(),
            )
            .await?
            .ok_or_else(|| Error::not_found(format!("organization {:?}", slug.as_str())))?;
        steps.push((Step::ActivateOrganization, Outcome::Created));
        org
    } else {
        steps.push((Step::ActivateOrganization, Outcome::Existing));
        org
    };
    hooks.after(Step::ActivateOrganization)?;

    if let Some(c) = &credential
        && let Err(e) =
            crate::service::mail::queue_sign_in_link(store, clock, &org, &admin, Role::Admin, c)
                .await
    {
        tracing::warn!(org = %org.slug, error = %e, "cannot queue the admin's sign-in link mail");
    }
    tracing::info!(org = %org.slug, admin = %admin.username, already_onboarded, "onboarding finished");
    Ok(OnboardReport {
        groups: groups.into_iter().map(|g| g.name).collect(),
        admin_username: admin.username,
        admin_email: admin.email.unwrap_or_default(),
        org,
        steps,
        credential,
        already_onboarded,
        elapsed: started.elapsed(),
    })
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrators",
        Role::Cashier => "Cashiers",
        Role::Customer => "Customers",
    }
}

async fn find_or_create_admin(
    dir: &dyn Directory,
    plan: &OnboardPlan,
    org: &Organization,
) -> Result<(DirUser, Outcome), Error> {
    if let Some(user) = dir.find_user_by_username(&plan.admin_username).await? {
        if user.email.as_deref() != Some(plan.admin_email.as_str()) {
            return Err(Error::Conflict(
                ErrorCode::OnboardAdminMismatch,
                format!(
                    "user {} already exists with email {}, not {}; pass the same --admin-email as the first run",
                    user.username,
                    user.email.as_deref().unwrap_or("(none)"),
                    plan.admin_email
                ),
            ));
        }
        return Ok((user, Outcome::Existing));
    }
    // One person may hold roles in several organizations: reuse their account.
    if let Some(user) = dir
        .find_users_by_email(&plan.admin_email)
        .await?
        .into_iter()
        .next()
    {
        return Ok((user, Outcome::Existing));
    }
    let new = NewDirUser {
        username: plan.admin_username.clone(),
        name: plan.admin_name.as_str().to_owned(),
        email: Some(plan.admin_email.clone()),
        attributes: serde_json::json!({
            "created_by": "loyalty",
            "loyalty_org": org.slug,
            "loyalty_role": "admin",
        }),
    };
    match dir.create_user(&new).await {
        Ok(user) => Ok((user, Outcome::Created)),
        Err(directory::DirectoryError::AlreadyExists { .. }) => dir
            .find_user_by_username(&plan.admin_username)
            .await?
            .map(|u| (u, Outcome::Existing))
            .ok_or_else(|| Error::not_found(format!("user {}", plan.admin_username))),
        Err(e) => Err(e.into()),
    }
}

async fn issue_credential(
    dir: &dyn Directory,
    pk: i64,
    mode: CredentialMode,
) -> Result<Credential, Error> {
    if mode == CredentialMode::Link {
        if let Some(link) = dir.password_set_link(pk).await? {
            return Ok(Credential::Link {
                url: link.url,
                expires_at: link.expires_at,
            });
        }
        tracing::warn!(
            "identity provider has no recovery flow; falling back to a generated password"
        );
    }
    let password = SecretString::from(secret::generate_password());
    dir.set_password(pk, &password, true).await?;
    Ok(Credential::Password(password))
}
