//! Onboarding a client organization in one command: the runbook's steps 2-4.
//!
//! Everything is validated before anything is written. Every step is find-or-create, so
//! a run that failed half-way is completed by running it again, and a run after success
//! changes nothing. Until the last step the organization is in status `onboarding`, which
//! no request can use, so a half-finished onboarding is never an active organization.
//! While a run works on an organization in `onboarding` it holds a claim on it (for
//! [`CLAIM_TTL`] at most), so concurrent runs of one slug cannot each issue the admin a
//! credential: every run but one stops with `onboard.in_progress`.

mod plan;

pub use crate::service::mail::Credential;
pub use plan::{CredentialMode, OnboardInput, OnboardPlan};

use crate::Error;
use crate::clock::Clock;
use crate::directory::{self, DirGroup, DirUser, Directory, NewDirUser, Outcome};
use crate::domain::ledger::Actor;
use crate::domain::{GroupName, OrgStatus, Organization, Role};
use crate::error::ErrorCode;
use crate::secret;
use crate::store::{NewMember, OnboardingClaim, Store, StoreError};
use secrecy::SecretString;
use std::time::Instant;
/// How long a run's claim on an organization's onboarding lasts: a run that was killed
/// half-way holds off the next one this long at most.
pub const CLAIM_TTL: time::Duration = time::Duration::minutes(5);

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
    /// A short description for people; `prefix` is the organization's group prefix.
    pub fn label(self, prefix: &str) -> String {
        let group = |role| format!("group {}", GroupName::new(prefix, role).name());
        match self {
            Step::CreateOrganization => "organization".into(),
            Step::CreateAdminsGroup => group(Role::Admin),
            Step::CreateCashiersGroup => group(Role::Cashier),
            Step::CreateCustomersGroup => group(Role::Customer),
            Step::CreateAdminUser => "admin account".into(),
            Step::AddAdminToGroup => "admin in admins group".into(),
            Step::RecordAdminMembership => "admin membership row".into(),
            Step::IssueCredential => "first sign-in credential".into(),
            Step::ActivateOrganization => "organization activated".into(),
        }
    }
}

impl StepHooks for NoHooks {
    fn after(&self, _step: Step) -> Result<(), Error> {
        Ok(())
    }
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

    // A first sign-in link needs a provider that can issue one: refuse before anything
    // is made, rather than hand out a password nobody asked for. An organization that
    // is onboarded already needs no credential.
    if mode == CredentialMode::Link {
        let onboarded = store
            .organization_by_slug(slug)
            .await?
            .is_some_and(|o| o.status != OrgStatus::Onboarding);
        if !onboarded && !dir.password_links_available().await? {
            return Err(no_links(dir));
        }
    }

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
            // Another run created it since this one looked: that run onboards it.
            Err(StoreError::Conflict(_)) => {
                return Err(Error::Conflict(
                    ErrorCode::OnboardInProgress,
                    format!(
                        "organization {slug} is being onboarded by another run right now (it created the organization while this run started); wait for that run to finish (it shows the admin's credential)"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        },
    };
    hooks.after(Step::CreateOrganization)?;

    // One run at a time finishes an onboarding, so one admin credential is issued: a run
    // that finds another one's claim stops; a run's own claim ends with it.
    let run = crate::store::new_id().to_string();
    let (org, claimed) = if org.status == OrgStatus::Onboarding {
        let now = clock.now();
        match store
            .claim_onboarding(slug, &run, now + CLAIM_TTL, now)
            .await?
        {
            OnboardingClaim::Claimed => (org, true),
            OnboardingClaim::Held { until } => {
                return Err(Error::Conflict(
                    ErrorCode::OnboardInProgress,
                    format!(
                        "organization {slug} is being onboarded by another run right now; wait for that run to finish (it shows the admin's credential). If it was stopped, run this again after {} UTC",
                        until
                            .to_offset(time::UtcOffset::UTC)
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    ),
                ));
            }
            // Another run finished it meanwhile.
            OnboardingClaim::NotOnboarding => (
                store
                    .organization_by_slug(slug)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("organization {:?}", slug.as_str())))?,
                false,
            ),
        }
    } else {
        (org, false)
    };
    let done = finish(store, dir, clock, plan, mode, hooks, org, steps, started).await;
    if claimed && let Err(e) = store.release_onboarding(slug, &run).await {
        // It lapses after CLAIM_TTL all the same.
        tracing::warn!(org = %slug, error = %e, "cannot release the onboarding claim");
    }
    done
}

/// Steps 2-9, for the run that may onboard `org`.
#[allow(clippy::too_many_arguments)]
async fn finish(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    plan: &OnboardPlan,
    mode: CredentialMode,
    hooks: &dyn StepHooks,
    org: Organization,
    mut steps: Vec<(Step, Outcome)>,
    started: Instant,
) -> Result<OnboardReport, Error> {
    let slug = &plan.org.slug;
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

/// The refusal when a link is asked for and the provider cannot issue one.
fn no_links(dir: &dyn Directory) -> Error {
    Error::Conflict(
        ErrorCode::IdentityNoLinks,
        format!(
            "the {} identity provider cannot issue one-time sign-in links (Authentik: the brand has no recovery flow); run `loyalty authentik setup`, which makes a recovery flow and sets it on the brand, or pass --password-output to give the admin a generated password instead",
            dir.provider()
        ),
    )
}

pub(crate) async fn issue_credential(
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
        return Err(no_links(dir));
    }
    let password = SecretString::from(secret::generate_password());
    dir.set_password(pk, &password, true).await?;
    Ok(Credential::Password(password))
}
