//! Claiming an online account: a customer enrolled at the till (by phone or email,
//! without an account) gets a link, by mail or as a QR code shown at the till, that
//! links a sign-in to the existing customer with its balance and history. The join page
//! offers it instead of refusing an email already enrolled. Links are one-time, expire
//! after [`CLAIM_DAYS`] days and are stored only as hashes.

use super::context::{Ctx, STAFF};
use crate::Error;
use crate::clock::Clock;
use crate::directory::{self, DirUser, Directory, NewDirUser};
use crate::domain::ledger::{Actor, Customer, CustomerKey};
use crate::domain::{
    CustomerId, Email, GroupName, OrgStatus, Organization, PersonName, Role, Username,
};
use crate::error::{ErrorCode, FieldError};
use crate::mail::{LinkMail, Sender};
use crate::secret::{hash_token, random_token};
use crate::service::mail::Credential;
use crate::service::staff::issue_link;
use crate::store::{Conflict, Store, StoreError};
use time::{Duration, OffsetDateTime};

/// Days a claim link works.
pub const CLAIM_DAYS: i64 = 14;

/// A claim link just made: shown as a QR code at the till, or mailed.
#[derive(Debug, Clone)]
pub struct ClaimLink {
    /// The address to open.
    pub url: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// Whether it was queued by mail to the customer's address.
    pub mailed: bool,
}

/// How a claim link reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Shown at the till (a QR code).
    Show,
    /// Mailed to the customer's email address on file.
    Mail,
}

fn claim_url(base_url: &str, org: &Organization, token: &str) -> String {
    format!(
        "{}/o/{}/claim/{token}",
        base_url.trim_end_matches('/'),
        org.slug
    )
}

async fn make_link(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    customer: &Customer,
    base_url: &str,
    delivery: Delivery,
) -> Result<ClaimLink, Error> {
    if customer.identity_subject.is_some() {
        return Err(Error::Conflict(
            ErrorCode::ClaimAlreadyClaimed,
            "this customer already has an online account; they sign in with it".into(),
        ));
    }
    let to = match delivery {
        Delivery::Show => None,
        Delivery::Mail => Some(customer.email.clone().ok_or_else(|| {
            Error::field(
                "email",
                "the customer has no email address; show the QR code at the till instead",
            )
        })?),
    };
    let now = clock.now();
    let token = random_token();
    let expires_at = now + Duration::days(CLAIM_DAYS);
    store
        .create_claim_link(org.id, customer.id, &hash_token(&token), expires_at, now)
        .await?;
    let url = claim_url(base_url, org, &token);
    if let Some(to) = to {
        let settings = store.mail_settings(org.id).await?;
        let mail = LinkMail {
            org: Some(org.id),
            org_name: &org.name,
            language: org.language.as_str(),
            timezone: org.timezone.as_str(),
            sender: Sender::of_org(&settings, &org.name),
            to: &to,
            name: customer.name.as_deref(),
            username: &to,
            role: None,
            url: &url,
            expires_at: Some(expires_at),
        }
        .claim(now);
        store.enqueue_mail(&mail).await?;
    }
    Ok(ClaimLink {
        url,
        expires_at,
        mailed: delivery == Delivery::Mail,
    })
}

/// A claim link for a customer enrolled at the till (cashiers and admins): shown at
/// the till, or mailed to the customer's address on file.
pub async fn issue(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    base_url: &str,
    delivery: Delivery,
) -> Result<ClaimLink, Error> {
    ctx.require(STAFF, "send claim links")?;
    let c = super::customers::customer(ctx, customer).await?;
    make_link(ctx.store, ctx.clock, ctx.org, &c, base_url, delivery).await
}

/// The join page's offer: when `email` belongs to a customer enrolled at the till
/// without an account, a claim link is mailed to that address (and only there, so
/// only its owner can use it). Says nothing about whether it was enrolled.
pub async fn request_by_email(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    email: &str,
    base_url: &str,
) -> Result<(), Error> {
    open(org)?;
    let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
    let found = store
        .find_customer(org.id, &CustomerKey::Email(email.as_str().to_owned()))
        .await?;
    if let Some(c) = found.filter(|c| c.identity_subject.is_none()) {
        make_link(store, clock, org, &c, base_url, Delivery::Mail).await?;
        tracing::info!(org = %org.slug, "claim link mailed from the join page");
    }
    Ok(())
}

fn open(org: &Organization) -> Result<(), Error> {
    if org.status != OrgStatus::Active {
        return Err(Error::OrgSuspended(org.slug.clone()));
    }
    Ok(())
}

fn invalid() -> Error {
    Error::NotFound(
        ErrorCode::ClaimInvalid,
        "claim link (unknown, used or expired)".into(),
    )
}

/// The customer a claim link names, while it works.
pub async fn customer_of(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    token: &str,
) -> Result<Customer, Error> {
    open(org)?;
    store
        .claim_link_customer(org.id, &hash_token(token), clock.now())
        .await?
        .ok_or_else(invalid)
}

fn claim_actor() -> Actor {
    Actor {
        member_id: None,
        label: "claim link".into(),
        role: "customer".into(),
        request_id: None,
    }
}

/// Links `user` (an account at the identity provider) to the customer the claim link
/// names, and adds them to the organization's customers group.
pub async fn claim_with_account(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    org: &Organization,
    token: &str,
    user: &DirUser,
) -> Result<Customer, Error> {
    open(org)?;
    customer_of(store, clock, org, token).await?;
    let group = GroupName::new(&org.group_prefix, Role::Customer).name();
    let (group, _) = directory::find_or_create_group(
        dir,
        &group,
        serde_json::json!({"loyalty_org": org.slug, "loyalty_role": "customer"}),
    )
    .await?;
    let claimed = match store
        .use_claim_link(
            org.id,
            &hash_token(token),
            &user.uid,
            &claim_actor(),
            clock.now(),
        )
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return Err(invalid()),
        Err(StoreError::Conflict(Conflict::MemberSubject)) => {
            return Err(Error::Conflict(
                ErrorCode::ClaimAlreadyClaimed,
                "this account already is a customer here; sign in with it to see its points".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    dir.add_member(&group, user.pk).await?;
    tracing::info!(org = %org.slug, "customer claimed an online account");
    Ok(claimed)
}

/// Claims with a new account (username = email) for a person not signed in: the
/// account is created, linked to the customer, and a credential to set its password
/// is returned. An email that already has an account is refused with a hint to sign
/// in first and open the link again.
pub async fn claim_new_account(
    store: &dyn Store,
    dir: &dyn Directory,
    clock: &dyn Clock,
    org: &Organization,
    token: &str,
    name: &str,
    email: &str,
) -> Result<(Customer, Credential), Error> {
    let customer = customer_of(store, clock, org, token).await?;
    let mut errors: Vec<FieldError> = Vec::new();
    let name = PersonName::parse(name)
        .map_err(|e| errors.push(e.renamed("name")))
        .ok();
    let email = Email::parse(email)
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
    if customer
        .email
        .as_deref()
        .is_some_and(|own| own != email.as_str())
    {
        return Err(Error::field(
            "email",
            "use the email address the shop has for you (the one this link was sent to)",
        ));
    }
    if dir.find_user_by_username(&username).await?.is_some()
        || !dir.find_users_by_email(&email).await?.is_empty()
    {
        return Err(Error::Conflict(
            ErrorCode::JoinAccountExists,
            "this email already has an account: sign in first, then open this link again".into(),
        ));
    }
    let user = dir
        .create_user(&NewDirUser {
            username,
            name: name.as_str().to_owned(),
            email: Some(email.clone()),
            attributes: serde_json::json!({"created_by": "claim link", "loyalty_org": org.slug}),
        })
        .await?;
    let claimed = claim_with_account(store, dir, clock, org, token, &user).await?;
    let credential = issue_link(dir, user.pk).await?;
    Ok((claimed, credential))
}
