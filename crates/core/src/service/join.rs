//! Self-registration through an organization's public join page (runbook step 6.3): the
//! person gets an account at the identity provider (username = email), joins the
//! organization's customers group and is enrolled with their account as identity
//! subject. Refused when the organization switched its join page off.

use crate::Error;
use crate::clock::Clock;
use crate::directory::{self, DirUser, Directory, NewDirUser};
use crate::domain::ledger::{Actor, Customer, CustomerKey};
use crate::domain::{Email, GroupName, OrgStatus, Organization, PersonName, Role, Username};
use crate::error::{ErrorCode, FieldError};
use crate::service::customers;
use crate::service::onboard::Credential;
use crate::service::points::{self, Ctx, EnrollInput};
use crate::service::staff::issue_link;
use crate::store::Store;

/// What a person types on the join page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct JoinInput {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Email (becomes the username).
    #[serde(default)]
    pub email: String,
    /// Phone (optional).
    #[serde(default)]
    pub phone: String,
    /// Whether they asked for news and offers by email (the box starts unticked); the
    /// answer is recorded either way, with the time and the source `join`.
    #[serde(default)]
    pub marketing: bool,
}

/// What joining did.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The new customer.
    pub customer: Customer,
    /// How they set their password (absent when joining with an existing account).
    pub credential: Option<Credential>,
}

fn open(org: &Organization) -> Result<(), Error> {
    if org.status != OrgStatus::Active {
        return Err(Error::OrgSuspended(org.slug.clone()));
    }
    if !org.join_enabled {
        return Err(Error::Forbidden(format!(
            "{} does not take sign-ups online; ask at the till to join",
            org.name
        )));
    }
    Ok(())
}

/// Registers a new person as a customer. An email that already has an account is
/// refused with a hint to sign in first (we cannot tell that it is theirs), unless
/// that account is one loyalty made for this organization and never finished (see
/// [`half_made`]): then this is a retry, and it finishes the account.
///
/// Every input is checked (name, email, phone in the organization's country, an email
/// or phone enrolled already) before anything is made at the identity provider. The
/// steps after the account is made are safe to repeat, and the customers group comes
/// last, so a failure part-way leaves an account that the next try finishes.
pub async fn join(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    org: &Organization,
    input: &JoinInput,
) -> Result<Joined, Error> {
    open(org)?;
    let probe = Ctx {
        store,
        clock,
        org,
        actor: join_actor(),
        role: Role::Customer,
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let name = PersonName::parse(&input.name)
        .map_err(|e| errors.push(e.renamed("name")))
        .ok();
    let email = Email::parse(&input.email)
        .map_err(|e| errors.push(e.renamed("email")))
        .ok();
    let username = email.as_ref().and_then(|e| {
        Username::parse(e.as_str())
            .map_err(|e| errors.push(e.renamed("email")))
            .ok()
    });
    let enrollment = EnrollInput {
        phone: Some(input.phone.clone()),
        email: Some(input.email.clone()),
        name: Some(input.name.clone()),
    };
    let checked = customers::check_enrollment(&probe, &enrollment)
        .map_err(|e| keep_errors(&mut errors, e, &["phone"]))
        .ok();
    let (Some(name), Some(email), Some(username), Some(checked)) = (name, email, username, checked)
    else {
        return Err(Error::Validation(errors));
    };
    let account_exists = || {
        Error::Conflict(
            ErrorCode::JoinAccountExists,
            "this email already has an account: sign in first, then open this page again to join"
                .into(),
        )
    };
    let user = match dir.find_user_by_username(&username).await? {
        Some(u) if half_made(dir, org, &u).await? => u,
        Some(_) => return Err(account_exists()),
        None => {
            if !dir.find_users_by_email(&email).await?.is_empty() {
                return Err(account_exists());
            }
            // A phone or email enrolled at the till stops us before any account exists.
            not_enrolled_yet(store, org, &checked, None).await?;
            dir.create_user(&NewDirUser {
                username,
                name: name.as_str().to_owned(),
                email: Some(email.clone()),
                attributes: signup_attributes("join page", org),
            })
            .await?
        }
    };
    not_enrolled_yet(store, org, &checked, Some(&user.uid)).await?;
    let mut customer = enroll_subject(&probe, &user, Some(&input.phone)).await?;
    let consent = crate::domain::MarketingConsent::answered(
        input.marketing,
        crate::domain::ConsentSource::Join,
        clock.now(),
    );
    if store
        .set_marketing_consent(org.id, customer.id, &consent, &probe.actor)
        .await?
    {
        customer.marketing_consent = consent;
    }
    let credential = issue_link(dir, user.pk).await?;
    join_customers_group(&probe, dir, &user).await?;
    tracing::info!(org = %org.slug, "customer joined online");
    Ok(Joined {
        customer,
        credential: Some(credential),
    })
}

/// Adds the errors of an enrolment's check about `fields` to `errors` (the caller
/// checked the others itself); all of them when that would leave `errors` empty, so a
/// refusal always says why. The check's "give a phone or an email" applies only when
/// the caller's own email is missing too, which the caller reports.
fn keep_errors(errors: &mut Vec<FieldError>, found: Vec<FieldError>, fields: &[&str]) {
    let all = found.clone();
    errors.extend(found.into_iter().filter(|e| {
        fields.contains(&e.field.as_str()) && !e.message.starts_with("give a phone number")
    }));
    if errors.is_empty() {
        errors.extend(all);
    }
}

/// The attributes of a customer's account made by loyalty for `org` (`created_by` is
/// the join page or the staff member at the till).
fn signup_attributes(created_by: &str, org: &Organization) -> serde_json::Value {
    serde_json::json!({
        "created_by": created_by,
        "loyalty_org": org.slug,
        "loyalty_role": "customer",
    })
}

/// Whether `user` is a customer's account that loyalty made for `org` (the join page or
/// the till) and that never got into the organization's customers group, the last step
/// of making it: an earlier try failed part-way, and this one may finish it.
pub async fn half_made(
    dir: &dyn Directory,
    org: &Organization,
    user: &DirUser,
) -> Result<bool, Error> {
    let a = &user.attributes;
    let ours = a.get("loyalty_org").and_then(|v| v.as_str()) == Some(org.slug.as_str())
        && (a.get("loyalty_role").and_then(|v| v.as_str()) == Some("customer")
            || a.get("created_by").and_then(|v| v.as_str()) == Some("join page"));
    if !ours || user.has_password == Some(true) {
        return Ok(false);
    }
    let group = GroupName::new(&org.group_prefix, Role::Customer).name();
    Ok(!dir.user_groups(user.pk).await?.contains(&group))
}

/// Refuses a phone or email that a customer here already has, unless that customer is
/// the account `subject` itself (a retry finishing it).
async fn not_enrolled_yet(
    store: &dyn Store,
    org: &Organization,
    checked: &customers::Enrollment,
    subject: Option<&str>,
) -> Result<(), Error> {
    let keys = [
        checked
            .email
            .clone()
            .map(|e| ("email address", CustomerKey::Email(e))),
        checked
            .phone
            .clone()
            .map(|p| ("phone number", CustomerKey::Phone(p))),
    ];
    for (what, key) in keys.into_iter().flatten() {
        if let Some(c) = store.find_customer(org.id, &key).await?
            && (subject.is_none() || c.identity_subject.as_deref() != subject)
        {
            return Err(Error::Conflict(
                ErrorCode::CustomerExists,
                format!(
                    "this {what} is already enrolled here; ask at the till to get your online account"
                ),
            ));
        }
    }
    Ok(())
}

/// The customer whose account is `user`, enrolled now unless an earlier try did.
async fn enroll_subject(
    ctx: &Ctx<'_>,
    user: &DirUser,
    phone: Option<&str>,
) -> Result<Customer, Error> {
    if let Some(c) = ctx
        .store
        .find_customer(ctx.org.id, &CustomerKey::Subject(user.uid.clone()))
        .await?
    {
        return Ok(c);
    }
    points::enroll(
        ctx,
        &EnrollInput {
            phone: phone.map(str::to_owned).filter(|p| !p.trim().is_empty()),
            email: user.email.clone(),
            name: Some(user.name.clone()),
        },
        Some(user.uid.clone()),
    )
    .await
}

/// Puts `user` in the organization's customers group (the last step of making a
/// customer's account; safe to repeat).
async fn join_customers_group(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    user: &DirUser,
) -> Result<(), Error> {
    let group = GroupName::new(&ctx.org.group_prefix, Role::Customer).name();
    let (group, _) = directory::find_or_create_group(
        dir,
        &group,
        serde_json::json!({"loyalty_org": ctx.org.slug, "loyalty_role": "customer"}),
    )
    .await?;
    dir.add_member(&group, user.pk).await?;
    Ok(())
}

/// Joins with the account of a person who is already signed in.
pub async fn join_signed_in(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    org: &Organization,
    user: &DirUser,
) -> Result<Joined, Error> {
    open(org)?;
    let ctx = Ctx {
        store,
        clock,
        org,
        actor: join_actor(),
        role: Role::Customer,
    };
    if let Some(c) = store
        .find_customer(org.id, &CustomerKey::Subject(user.uid.clone()))
        .await?
    {
        return Ok(Joined {
            customer: c,
            credential: None,
        });
    }
    let customer = enroll_account(&ctx, dir, user, None).await?;
    Ok(Joined {
        customer,
        credential: None,
    })
}

/// Enrolls an account with its subject (unless it is enrolled already) and adds it to
/// the customers group.
async fn enroll_account(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    user: &DirUser,
    phone: Option<&str>,
) -> Result<Customer, Error> {
    let customer = enroll_subject(ctx, user, phone).await?;
    join_customers_group(ctx, dir, user).await?;
    Ok(customer)
}

fn join_actor() -> Actor {
    Actor {
        member_id: None,
        label: "join page".into(),
        role: "customer".into(),
        request_id: None,
    }
}

/// Enrolls a customer at the till together with an online account (username = email):
/// the staff member in `ctx` hands the one-time link over in person (a QR code on the
/// till screen). A person who already has an account with that email keeps it; an
/// account an earlier try made and did not finish (see [`half_made`]) is finished and
/// gets its link. Every input is checked before anything is made at the identity
/// provider, and the customers group comes last.
pub async fn enroll_with_account(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    input: &EnrollInput,
) -> Result<(Customer, Credential), Error> {
    if !matches!(ctx.role, Role::Admin | Role::Cashier) {
        return Err(Error::Forbidden(format!(
            "a {} cannot enroll customers",
            ctx.role
        )));
    }
    if ctx.org.status != OrgStatus::Active {
        return Err(Error::OrgSuspended(ctx.org.slug.clone()));
    }
    let mut errors = Vec::new();
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        None => {
            errors.push(FieldError::new(
                "email",
                "an online account needs an email address",
            ));
            None
        }
        Some(e) => Email::parse(e)
            .and_then(|e| Username::parse(e.as_str()).map(|u| (e, u)))
            .map_err(|e| errors.push(e.renamed("email")))
            .ok(),
    };
    let checked = customers::check_enrollment(ctx, input)
        .map_err(|e| keep_errors(&mut errors, e, &["phone", "name"]))
        .ok();
    let (Some((email, username)), Some(checked)) = (email, checked) else {
        return Err(Error::Validation(errors));
    };
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| email.local_part().to_owned(), str::to_owned);
    let existing = dir.find_users_by_email(&email).await?.into_iter().next();
    let half = match &existing {
        Some(u) => half_made(dir, ctx.org, u).await?,
        None => false,
    };
    let subject = existing.as_ref().filter(|_| half).map(|u| u.uid.as_str());
    match not_enrolled_yet(ctx.store, ctx.org, &checked, subject).await {
        Ok(()) => {}
        Err(Error::Conflict(code, _)) => {
            return Err(Error::Conflict(
                code,
                "a customer with this email address or phone number is already enrolled; look them up instead"
                    .into(),
            ));
        }
        Err(e) => return Err(e),
    }
    let (user, fresh) = match existing {
        Some(u) => (u, half),
        None => {
            let user = dir
                .create_user(&NewDirUser {
                    username,
                    name: name.clone(),
                    email: Some(email.clone()),
                    attributes: signup_attributes(&ctx.actor.label, ctx.org),
                })
                .await?;
            (user, true)
        }
    };
    let customer = enroll_subject(ctx, &user, input.phone.as_deref()).await?;
    let credential = if fresh || user.has_password == Some(false) {
        issue_link(dir, user.pk).await?
    } else {
        Credential::Existing
    };
    join_customers_group(ctx, dir, &user).await?;
    Ok((customer, credential))
}
