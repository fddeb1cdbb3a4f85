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
/// refused with a hint to sign in first (we cannot tell that it is theirs).
pub async fn join(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    org: &Organization,
    input: &JoinInput,
) -> Result<Joined, Error> {
    open(org)?;
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
    let (Some(name), Some(email), Some(username)) = (name, email, username) else {
        return Err(Error::Validation(errors));
    };
    if dir.find_user_by_username(&username).await?.is_some()
        || !dir.find_users_by_email(&email).await?.is_empty()
    {
        return Err(Error::Conflict(
            ErrorCode::JoinAccountExists,
            "this email already has an account: sign in first, then open this page again to join"
                .into(),
        ));
    }
    // Enroll first: a phone or email already enrolled at the till stops us before any
    // account exists.
    let probe = Ctx {
        store,
        clock,
        org,
        actor: join_actor(),
        role: Role::Customer,
    };
    if store
        .find_customer(org.id, &CustomerKey::Email(email.as_str().to_owned()))
        .await?
        .is_some()
    {
        return Err(Error::Conflict(
            ErrorCode::CustomerExists,
            "this email is already enrolled here; ask at the till to get your online account"
                .into(),
        ));
    }
    let user = dir
        .create_user(&NewDirUser {
            username,
            name: name.as_str().to_owned(),
            email: Some(email.clone()),
            attributes: serde_json::json!({"created_by": "join page", "loyalty_org": org.slug}),
        })
        .await?;
    let customer = enroll_account(&probe, dir, &user, Some(&input.phone)).await?;
    let credential = issue_link(dir, user.pk).await?;
    tracing::info!(org = %org.slug, "customer joined online");
    Ok(Joined {
        customer,
        credential: Some(credential),
    })
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

/// Adds an account to the customers group and enrolls it with its subject.
pub async fn enroll_account(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    user: &DirUser,
    phone: Option<&str>,
) -> Result<Customer, Error> {
    let group = GroupName::new(&ctx.org.group_prefix, Role::Customer).name();
    let (group, _) = directory::find_or_create_group(
        dir,
        &group,
        serde_json::json!({"loyalty_org": ctx.org.slug, "loyalty_role": "customer"}),
    )
    .await?;
    let customer = points::enroll(
        ctx,
        &EnrollInput {
            phone: phone.map(str::to_owned).filter(|p| !p.trim().is_empty()),
            email: user.email.clone(),
            name: Some(user.name.clone()),
        },
        Some(user.uid.clone()),
    )
    .await?;
    dir.add_member(&group, user.pk).await?;
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
/// till screen). A person who already has an account with that email keeps it.
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
    let email = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::field("email", "an online account needs an email address"))
        .and_then(|e| Email::parse(e).map_err(|e| Error::Validation(vec![e.renamed("email")])))?;
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| email.local_part().to_owned(), str::to_owned);
    if ctx
        .store
        .find_customer(ctx.org.id, &CustomerKey::Email(email.as_str().to_owned()))
        .await?
        .is_some()
    {
        return Err(Error::Conflict(
            ErrorCode::CustomerExists,
            "a customer with this email address is already enrolled; look them up instead".into(),
        ));
    }
    let existing = dir.find_users_by_email(&email).await?.into_iter().next();
    let (user, fresh) = match existing {
        Some(u) => (u, false),
        None => {
            let username = Username::parse(email.as_str())
                .map_err(|e| Error::Validation(vec![e.renamed("email")]))?;
            let user = dir
                .create_user(&NewDirUser {
                    username,
                    name: name.clone(),
                    email: Some(email.clone()),
                    attributes: serde_json::json!({"created_by": ctx.actor.label, "loyalty_org": ctx.org.slug}),
                })
                .await?;
            (user, true)
        }
    };
    let customer = enroll_account(ctx, dir, &user, input.phone.as_deref()).await?;
    let credential = if fresh || user.has_password == Some(false) {
        issue_link(dir, user.pk).await?
    } else {
        Credential::Existing
    };
    Ok((customer, credential))
}
