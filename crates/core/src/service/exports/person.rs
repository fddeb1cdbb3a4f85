//! One person's data package (LGPD Art. 18, GDPR Art. 15 and 20): a zip with a README
//! of the fields, `data.json` with everything, and one CSV per part (machine style,
//! written by the exports' CSV writer). Asked for by an admin (any customer of the
//! shop) or by the customer (their own). Built in memory: one person's records are
//! few. The parts are described in `docs/privacy.md`.

use super::{ExportKind, columns, row_with};
use crate::Error;
use crate::domain::CustomerId;
use crate::domain::ledger::{AuditRecord, Customer, LedgerEntry, PointsError, Purchase};
use crate::service::context::{ADMIN, Ctx};
use crate::service::customers;
use std::collections::HashMap;
use std::io::Write;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const PAGE: u32 = 1000;

/// A finished data package.
#[derive(Debug, Clone)]
pub struct DataPackage {
    /// A file name such as `my-data-nextdoor-0193....zip`.
    pub file_name: String,
    /// The zip.
    pub bytes: Vec<u8>,
}

impl DataPackage {
    /// The media type of the file.
    pub fn content_type(&self) -> &'static str {
        "application/zip"
    }
}

/// The package of a customer of the organization (admins).
pub async fn customer_package(ctx: &Ctx<'_>, id: CustomerId) -> Result<DataPackage, Error> {
    ctx.require(ADMIN, "export a customer's data")?;
    let customer = ctx
        .store
        .find_customer(ctx.org.id, &crate::domain::ledger::CustomerKey::Id(id))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))?;
    build(ctx, customer).await
}

/// The caller's own package (a signed-in customer).
pub async fn own_package(ctx: &Ctx<'_>, subject: Option<&str>) -> Result<DataPackage, Error> {
    let me = customers::own(ctx, subject).await?;
    build(ctx, me).await
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A CSV part in the machine style of the exports: byte-order mark, `,`, CRLF, UTC
/// RFC 3339 times, the stable English headers.
fn csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from('\u{feff}');
    row_with(&mut out, headers, ',');
    for r in rows {
        let fields: Vec<&str> = r.iter().map(String::as_str).collect();
        row_with(&mut out, &fields, ',');
    }
    out.into_bytes()
}

const PROFILE_COLUMNS: [&str; 12] = [
    "customer_id",
    "card_number",
    "name",
    "email",
    "phone",
    "status",
    "balance",
    "enrolled_at",
    "birth_date",
    "marketing_consent",
    "marketing_consent_at",
    "marketing_consent_source",
];
const PURCHASE_COLUMNS: [&str; 7] = [
    "purchase_id",
    "created_at",
    "amount",
    "currency",
    "points_awarded",
    "reversed_amount",
    "points_reversed",
];
const REDEMPTION_COLUMNS: [&str; 5] = [
    "entry_id",
    "created_at",
    "reward_id",
    "reward_name",
    "points",
];
const AUDIT_COLUMNS: [&str; 7] = [
    "record_id",
    "created_at",
    "action",
    "actor_role",
    "before",
    "after",
    "reason",
];

const README: &str = "\
Your data at {shop}
===================

This package holds every record {shop} keeps about you in its loyalty program, as of
{now} (UTC). data.json holds all of it; each CSV file holds one part (UTF-8 with a
byte-order mark, comma-separated, times in UTC as RFC 3339).

profile.csv: customer_id (your id here), card_number (your member card), name, email,
  phone, status (active or suspended), balance (points now), enrolled_at, birth_date,
  marketing_consent (true when you agreed to news and offers by email),
  marketing_consent_at and marketing_consent_source (when and where you last answered).
ledger.csv: every change of your points, oldest first. entry_id, created_at,
  customer_id, type (earned, redeemed, expired, adjusted, reversed), points (+ added,
  - taken), balance_after, reference_type (purchase or reward), reference_id, notes.
purchases.csv: your purchases, oldest first. purchase_id, created_at, amount,
  currency, points_awarded, reversed_amount (refunded), points_reversed.
redemptions.csv: the rewards you took, oldest first. entry_id (in the ledger),
  created_at, reward_id, reward_name, points (spent).
audit.csv: the shop's audit records about you (enrolment, adjustments, status
  changes, erasure), oldest first. record_id, created_at, action, actor_role (the role
  of who acted: admin, cashier, customer, system), before and after (the values
  changed, JSON), reason.

Who acted is given by role only: the names of the shop's staff are not yours.
To correct your data, ask the shop; to erase it, use \"Erase my account\" on your
card's page or ask the shop.
";

async fn all_entries(ctx: &Ctx<'_>, id: CustomerId) -> Result<Vec<LedgerEntry>, Error> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = ctx
            .store
            .ledger(ctx.org.id, Some(id), None, None, after, PAGE)
            .await?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|e| (e.created_at, e.id));
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

async fn all_purchases(ctx: &Ctx<'_>, id: CustomerId) -> Result<Vec<Purchase>, Error> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = ctx
            .store
            .list_purchases(ctx.org.id, Some(id), None, before, PAGE)
            .await?;
        let full = page.len() == PAGE as usize;
        before = page.last().map(|p| (p.created_at, p.id));
        out.extend(page);
        if !full {
            out.reverse();
            return Ok(out);
        }
    }
}

fn json_text(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

async fn build(ctx: &Ctx<'_>, c: Customer) -> Result<DataPackage, Error> {
    let entries = all_entries(ctx, c.id).await?;
    let purchases = all_purchases(ctx, c.id).await?;
    let audit: Vec<AuditRecord> = ctx.store.customer_audit(ctx.org.id, c.id).await?;
    let rewards: HashMap<uuid::Uuid, String> = ctx
        .store
        .list_rewards(ctx.org.id)
        .await?
        .into_iter()
        .map(|r| (r.id.0, r.name))
        .collect();
    let now = ctx.clock.now();

    let profile = vec![
        c.id.to_string(),
        c.card_number.clone(),
        c.name.clone().unwrap_or_default(),
        c.email.clone().unwrap_or_default(),
        c.phone.clone().unwrap_or_default(),
        c.status.clone(),
        c.balance.to_string(),
        rfc3339(c.created_at),
        c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        c.marketing_consent.granted.to_string(),
        c.marketing_consent.at.map(rfc3339).unwrap_or_default(),
        c.marketing_consent
            .source
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    ];
    let ledger_rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                rfc3339(e.created_at),
                e.customer_id.to_string(),
                e.transaction_type.as_str().to_owned(),
                e.points.to_string(),
                e.balance_after.to_string(),
                e.reference_type.clone().unwrap_or_default(),
                e.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                e.notes.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let purchase_rows: Vec<Vec<String>> = purchases
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                rfc3339(p.created_at),
                p.amount.to_string(),
                p.currency.clone(),
                p.points_awarded.to_string(),
                p.reversed_amount.to_string(),
                p.points_reversed.to_string(),
            ]
        })
        .collect();
    let redemptions: Vec<(&LedgerEntry, String)> = entries
        .iter()
        .filter(|e| e.reference_type.as_deref() == Some("reward"))
        .map(|e| {
            let name = e
                .reference_id
                .and_then(|r| rewards.get(&r).cloned())
                .unwrap_or_default();
            (e, name)
        })
        .collect();
    let redemption_rows: Vec<Vec<String>> = redemptions
        .iter()
        .map(|(e, name)| {
            vec![
                e.id.to_string(),
                rfc3339(e.created_at),
                e.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                name.clone(),
                (-e.points).to_string(),
            ]
        })
        .collect();
    let audit_rows: Vec<Vec<String>> = audit
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                rfc3339(a.created_at),
                a.action.clone(),
                a.actor_role.clone(),
                json_text(&a.before),
                json_text(&a.after),
                a.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();

    let data = serde_json::json!({
        "exported_at": rfc3339(now),
        "organization": { "name": ctx.org.name, "slug": ctx.org.slug.to_string() },
        "profile": {
            "customer_id": c.id,
            "card_number": c.card_number,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "status": c.status,
            "balance": c.balance,
            "enrolled_at": rfc3339(c.created_at),
            "birth_date": c.birth_date.map(|d| d.to_string()),
            "marketing_consent": {
                "granted": c.marketing_consent.granted,
                "at": c.marketing_consent.at.map(rfc3339),
                "source": c.marketing_consent.source.map(|s| s.as_str()),
            },
        },
        "ledger": entries.iter().map(|e| serde_json::json!({
            "entry_id": e.id,
            "created_at": rfc3339(e.created_at),
            "type": e.transaction_type.as_str(),
            "points": e.points,
            "balance_after": e.balance_after,
            "reference_type": e.reference_type,
            "reference_id": e.reference_id,
            "notes": e.notes,
        })).collect::<Vec<_>>(),
        "purchases": purchases.iter().map(|p| serde_json::json!({
            "purchase_id": p.id,
            "created_at": rfc3339(p.created_at),
            "amount": p.amount.to_string(),
            "currency": p.currency,
            "points_awarded": p.points_awarded,
            "reversed_amount": p.reversed_amount.to_string(),
            "points_reversed": p.points_reversed,
        })).collect::<Vec<_>>(),
        "redemptions": redemptions.iter().map(|(e, name)| serde_json::json!({
            "entry_id": e.id,
            "created_at": rfc3339(e.created_at),
            "reward_id": e.reference_id,
            "reward_name": name,
            "points": -e.points,
        })).collect::<Vec<_>>(),
        "audit": audit.iter().map(|a| serde_json::json!({
            "record_id": a.id,
            "created_at": rfc3339(a.created_at),
            "action": a.action,
            "actor_role": a.actor_role,
            "before": a.before,
            "after": a.after,
            "reason": a.reason,
        })).collect::<Vec<_>>(),
    });
    let ledger_headers: Vec<&str> = columns::of(ExportKind::Ledger)
        .iter()
        .map(|c| c.machine)
        .collect();
    let readme = README
        .replace("{shop}", &ctx.org.name)
        .replace("{now}", &rfc3339(now));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("README.txt", readme.into_bytes()),
        (
            "data.json",
            serde_json::to_vec_pretty(&data).map_err(|e| Error::File(e.to_string()))?,
        ),
        ("profile.csv", csv(&PROFILE_COLUMNS, &[profile])),
        ("ledger.csv", csv(&ledger_headers, &ledger_rows)),
        ("purchases.csv", csv(&PURCHASE_COLUMNS, &purchase_rows)),
        (
            "redemptions.csv",
            csv(&REDEMPTION_COLUMNS, &redemption_rows),
        ),
        ("audit.csv", csv(&AUDIT_COLUMNS, &audit_rows)),
    ];
    Ok(DataPackage {
        file_name: format!("my-data-{}-{}.zip", ctx.org.slug, c.id),
        bytes: zip(&files)?,
    })
}

fn zip(files: &[(&str, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    let fail = |e: &dyn std::fmt::Display| Error::File(format!("writing the data package: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(*name, options).map_err(|e| fail(&e))?;
        w.write_all(bytes).map_err(|e| fail(&e))?;
    }
    let cursor = w.finish().map_err(|e| fail(&e))?;
    Ok(cursor.into_inner())
}
