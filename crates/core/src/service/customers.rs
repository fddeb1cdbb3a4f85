//! Customers: enroll and find them (the till), list them and read their ledgers (the
//! admin panel and the API), and a customer's own view of their card and history.

use super::context::{ADMIN, Ctx, STAFF};
use crate::Error;
use crate::domain::ledger::{Customer, CustomerKey, LedgerEntry, NewCustomer, PointsError};
use crate::domain::points::{is_card_number, new_card_number, normalize_phone};
use crate::domain::program::Grant;
use crate::domain::{CountryCode, Email};
use crate::domain::{CustomerId, LedgerEntryId, Role};
use crate::error::{ErrorCode, FieldError};
use crate::store::{Conflict, StoreError};
use time::OffsetDateTime;

/// Input for enrolling a customer (the API reads it from its own body type, which
/// refuses unknown fields).
#[derive(Debug, Clone, Default)]
pub struct EnrollInput {
    /// Phone, in any common notation; read in the org's country without `+`.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// An enrolment's inputs, read and checked; nothing is written (see
/// [`check_enrollment`]).
#[derive(Debug, Clone, Default)]
pub struct Enrollment {
    /// E.164 phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// Reads and checks an enrolment's inputs (the phone in the organization's country),
/// every field at once, without writing anything: the join page and the till check
/// them before anything is made at the identity provider.
pub fn check_enrollment(ctx: &Ctx<'_>, input: &EnrollInput) -> Result<Enrollment, Vec<FieldError>> {
    let mut errors = Vec::new();
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(p) => normalize_phone(p, ctx.org.country.as_ref().map(CountryCode::as_str))
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(e) => Email::parse(e)
            .map(|e| e.as_str().to_owned())
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 255 || n.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "name",
            "must be at most 255 characters without line breaks",
        ));
    }
    if errors.is_empty() && phone.is_none() && email.is_none() {
        errors.push(FieldError::new(
            "phone",
            "give a phone number, an email address, or both",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Enrollment { phone, email, name })
}

/// Enrolls a customer by phone, email or both, with a new card number.
pub async fn enroll(
    ctx: &Ctx<'_>,
    input: &EnrollInput,
    subject: Option<String>,
) -> Result<Customer, Error> {
    if subject.is_none() {
        ctx.require(STAFF, "enroll customers")?;
    }
    let Enrollment { phone, email, name } =
        check_enrollment(ctx, input).map_err(Error::Validation)?;
    for _ in 0..5 {
        let new = NewCustomer {
            phone: phone.clone(),
            email: email.clone(),
            name: name.clone(),
            card_number: new_card_number(),
            identity_subject: subject.clone(),
            created_by: ctx.actor.member_id,
        };
        match ctx
            .store
            .enroll_customer(ctx.org.id, &new, &ctx.actor, ctx.clock.now())
            .await
        {
            Ok(c) => return super::program::enrollment_bonuses(ctx, c).await,
            // A fresh random card number taken by chance: draw another.
            Err(StoreError::Conflict(Conflict::CustomerCard)) => continue,
            Err(StoreError::Conflict(c)) => {
                let what = match c {
                    Conflict::CustomerPhone => "phone number",
                    Conflict::MemberSubject => "account",
                    _ => "email address",
                };
                return Err(Error::Conflict(
                    ErrorCode::CustomerExists,
                    format!(
                        "a customer with this {what} is already enrolled; look them up instead"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict(
        ErrorCode::CustomerCardCollision,
        "could not allocate a card number; try again".into(),
    ))
}

/// Finds a customer by phone, email or card number, told apart by their shape.
pub async fn lookup(ctx: &Ctx<'_>, query: &str) -> Result<Customer, Error> {
    ctx.require(STAFF, "look up customers")?;
    let q = query.trim();
    let key = if q.contains('@') {
        CustomerKey::Email(
            Email::parse(q)
                .map_err(|e| Error::Validation(vec![e.renamed("q")]))?
                .as_str()
                .to_owned(),
        )
    } else if is_card_number(q) {
        CustomerKey::Card(q.to_owned())
    } else {
        CustomerKey::Phone(
            normalize_phone(q, ctx.org.country.as_ref().map(CountryCode::as_str))
                .map_err(|e| Error::Validation(vec![e.renamed("q")]))?,
        )
    };
    ctx.store
        .find_customer(ctx.org.id, &key)
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))
}

/// A customer by id.
pub async fn customer(ctx: &Ctx<'_>, id: CustomerId) -> Result<Customer, Error> {
    ctx.require(STAFF, "see customers")?;
    ctx.store
        .find_customer(ctx.org.id, &CustomerKey::Id(id))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))
}

/// A page of customers by id order, after `after` (staff).
pub async fn list(
    ctx: &Ctx<'_>,
    after: Option<CustomerId>,
    limit: u32,
) -> Result<Vec<Customer>, Error> {
    ctx.require(STAFF, "list customers")?;
    Ok(ctx.store.list_customers(ctx.org.id, after, limit).await?)
}

/// Which ledger entries to read: between two instants, after a cursor, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRange {
    /// First instant (inclusive).
    pub from: Option<OffsetDateTime>,
    /// Last instant (exclusive).
    pub to: Option<OffsetDateTime>,
    /// The cursor `(created_at, id)` of the last entry already read.
    pub after: Option<(OffsetDateTime, LedgerEntryId)>,
    /// How many entries at most.
    pub limit: u32,
}

impl LedgerRange {
    /// The first `limit` entries, with no bounds.
    pub fn first(limit: u32) -> Self {
        Self {
            from: None,
            to: None,
            after: None,
            limit,
        }
    }
}

/// Ledger entries, oldest first: one customer's (staff) or the whole organization's
/// (admins).
pub async fn ledger(
    ctx: &Ctx<'_>,
    customer: Option<CustomerId>,
    range: LedgerRange,
) -> Result<Vec<LedgerEntry>, Error> {
    match customer {
        Some(_) => ctx.require(STAFF, "read customers' ledgers")?,
        None => ctx.require(ADMIN, "read the whole ledger")?,
    }
    read_ledger(ctx, customer, range).await
}

async fn read_ledger(
    ctx: &Ctx<'_>,
    customer: Option<CustomerId>,
    range: LedgerRange,
) -> Result<Vec<LedgerEntry>, Error> {
    Ok(ctx
        .store
        .ledger(
            ctx.org.id,
            customer,
            range.from,
            range.to,
            range.after,
            range.limit,
        )
        .await?)
}

/// The caller's own customer record: a person with the customer role here, known by
/// their identity subject. `CustomerNotFound` when they have not enrolled yet.
pub async fn own(ctx: &Ctx<'_>, subject: Option<&str>) -> Result<Customer, Error> {
    let subject = match subject {
        Some(s) if ctx.role == Role::Customer => s,
        _ => {
            return Err(Error::Forbidden(
                "this is the customers' own view; sign in as a customer of this organization"
                    .into(),
            ));
        }
    };
    ctx.require(&[Role::Customer], "see a customer's own view")?;
    ctx.store
        .find_customer(ctx.org.id, &CustomerKey::Subject(subject.to_owned()))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))
}

/// The caller's own answer about marketing mail, given or withdrawn in the portal;
/// recorded with the time and the source `portal`, and audited.
pub async fn set_own_marketing_consent(
    ctx: &Ctx<'_>,
    subject: Option<&str>,
    granted: bool,
) -> Result<Customer, Error> {
    let mut me = own(ctx, subject).await?;
    let consent = crate::domain::MarketingConsent::answered(
        granted,
        crate::domain::ConsentSource::Portal,
        ctx.clock.now(),
    );
    if !ctx
        .store
        .set_marketing_consent(ctx.org.id, me.id, &consent, &ctx.actor)
        .await?
    {
        return Err(Error::Points(PointsError::CustomerNotFound));
    }
    me.marketing_consent = consent;
    Ok(me)
}

/// A customer's answer about marketing mail as a member of staff records it (asked in
/// the shop or on the phone): the time and the source `staff`, audited with who
/// recorded it. Staff of the organization only.
pub async fn set_marketing_consent(
    ctx: &Ctx<'_>,
    id: CustomerId,
    granted: bool,
) -> Result<Customer, Error> {
    ctx.require(STAFF, "record a customer's marketing consent")?;
    let mut customer = ctx
        .store
        .find_customer(ctx.org.id, &CustomerKey::Id(id))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))?;
    let consent = crate::domain::MarketingConsent::answered(
        granted,
        crate::domain::ConsentSource::Staff,
        ctx.clock.now(),
    );
    if !ctx
        .store
        .set_marketing_consent(ctx.org.id, id, &consent, &ctx.actor)
        .await?
    {
        return Err(Error::Points(PointsError::CustomerNotFound));
    }
    customer.marketing_consent = consent;
    Ok(customer)
}

/// One line of a customer's history: the ledger entry and, for an award under a
/// program, what each rule gave (empty otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryLine {
    /// The entry.
    pub entry: LedgerEntry,
    /// The purchase's grants, for an award (`domain::program::describe_grants` writes them).
    pub grants: Vec<Grant>,
}

/// The caller's own customer record and their history, oldest first: the ledger
/// entries, each award with the breakdown of its purchase (the portal).
pub async fn own_history(
    ctx: &Ctx<'_>,
    subject: Option<&str>,
    range: LedgerRange,
) -> Result<(Customer, Vec<HistoryLine>), Error> {
    let (me, entries) = own_ledger(ctx, subject, range).await?;
    let mut grants = super::program::award_grants(ctx.store, ctx.org.id, &entries).await?;
    let lines = entries
        .into_iter()
        .map(|entry| HistoryLine {
            grants: grants.remove(&entry.id).unwrap_or_default(),
            entry,
        })
        .collect();
    Ok((me, lines))
}

/// The caller's own customer record and their ledger entries, oldest first.
pub async fn own_ledger(
    ctx: &Ctx<'_>,
    subject: Option<&str>,
    range: LedgerRange,
) -> Result<(Customer, Vec<LedgerEntry>), Error> {
    let me = own(ctx, subject).await?;
    let entries = read_ledger(ctx, Some(me.id), range).await?;
    Ok((me, entries))
}
