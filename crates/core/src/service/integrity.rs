//! Walking the ledger's hash chains (`loyalty points verify`): every customer's
//! entries in sequence order, each hash recomputed by `domain::chain` from the content
//! and the previous link, the last one compared with the head on the customer's row,
//! and, given a signed checkpoint, each head it recorded found again. Names the first
//! entry that fails. Also the organization's signed checkpoints as its admin downloads
//! them.

use super::context::{ADMIN, Ctx};
use crate::domain::chain::{
    Broken, Checkpoint, CheckpointHead, Failure, Head, StoredEntry, check_against, check_customer,
    heads_root,
};
use crate::domain::{CustomerId, OrgId};
use crate::store::{ChainCursor, Store, StoreError};
use crate::{Error, ErrorCode};
use std::collections::HashMap;

/// Entries read per page of the walk.
const PAGE: u32 = 20_000;

/// What a chain walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// Customers whose chain was walked.
    pub customers: i64,
    /// Entries whose hash was recomputed.
    pub entries: i64,
    /// Customers whose chain breaks somewhere.
    pub broken_customers: i64,
    /// Heads a checkpoint recorded that were checked.
    pub checkpoint_heads: i64,
    /// The first entry that fails (in organization, customer, sequence order).
    pub first_failure: Option<Broken>,
}

impl ChainReport {
    /// Whether every chain holds.
    pub fn holds(&self) -> bool {
        self.first_failure.is_none()
    }

    fn fail(&mut self, b: Broken) {
        self.broken_customers += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(b);
        }
    }
}

/// Walks the chains of one organization or all. With `checkpoint` (an organization
/// and the heads it recorded, its signature already checked), also proves that no
/// entry up to each recorded head changed since.
pub async fn verify_chains(
    store: &dyn Store,
    org: Option<OrgId>,
    checkpoint: Option<(OrgId, &[CheckpointHead])>,
) -> Result<ChainReport, StoreError> {
    let mut heads: HashMap<(OrgId, CustomerId), Head> = store
        .chain_heads(org)
        .await?
        .into_iter()
        .map(|h| ((h.org, h.customer), h))
        .collect();
    let mut recorded: HashMap<CustomerId, CheckpointHead> = checkpoint
        .map(|(_, hs)| hs.iter().map(|h| (h.customer, *h)).collect())
        .unwrap_or_default();
    let checkpoint_org = checkpoint.map(|(o, _)| o);
    let mut report = ChainReport {
        checkpoint_heads: recorded.len() as i64,
        ..ChainReport::default()
    };
    let mut current: Vec<StoredEntry> = Vec::new();
    let mut after: Option<ChainCursor> = None;
    loop {
        let page = store.chain_page(org, after, PAGE).await?;
        let done = (page.len() as u32) < PAGE;
        if let Some(last) = page.last() {
            after = Some((last.org, last.entry.customer_id, last.seq));
        }
        for e in page {
            if current
                .first()
                .is_some_and(|c| (c.org, c.entry.customer_id) != (e.org, e.entry.customer_id))
            {
                finish(
                    &mut current,
                    &mut heads,
                    &mut recorded,
                    checkpoint_org,
                    &mut report,
                );
            }
            current.push(e);
        }
        if done {
            break;
        }
    }
    finish(
        &mut current,
        &mut heads,
        &mut recorded,
        checkpoint_org,
        &mut report,
    );
    // Customers with a head but no entry left: every entry of theirs was deleted.
    let mut rest: Vec<Head> = heads
        .into_values()
        .filter(|h| h.seq != 0 || h.hash.is_some())
        .collect();
    rest.sort_by_key(|h| (h.org.0, h.customer.0));
    for h in rest {
        report.customers += 1;
        recorded.remove(&h.customer);
        report.fail(Broken {
            org: h.org,
            customer: h.customer,
            entry: None,
            seq: 0,
            failure: Failure::DeletedAfter,
        });
    }
    // Customers the checkpoint recorded that are gone altogether.
    if let Some(o) = checkpoint_org {
        let mut gone: Vec<CheckpointHead> = recorded.into_values().collect();
        gone.sort_by_key(|h| h.customer.0);
        for h in gone {
            report.fail(Broken {
                org: o,
                customer: h.customer,
                entry: None,
                seq: 0,
                failure: Failure::CheckpointMismatch,
            });
        }
    }
    Ok(report)
}

/// Checks the customer whose entries are in `current`, and empties it.
fn finish(
    current: &mut Vec<StoredEntry>,
    heads: &mut HashMap<(OrgId, CustomerId), Head>,
    recorded: &mut HashMap<CustomerId, CheckpointHead>,
    checkpoint_org: Option<OrgId>,
    report: &mut ChainReport,
) {
    let Some(first) = current.first() else {
        return;
    };
    let (org, customer) = (first.org, first.entry.customer_id);
    let head = heads.remove(&(org, customer)).unwrap_or(Head {
        org,
        customer,
        seq: 0,
        hash: None,
    });
    report.customers += 1;
    report.entries += current.len() as i64;
    let mut broken = check_customer(current, &head);
    if broken.is_none()
        && checkpoint_org == Some(org)
        && let Some(r) = recorded.remove(&customer)
    {
        broken = check_against(org, current, &r);
    }
    if let Some(b) = broken {
        recorded.remove(&customer);
        report.fail(b);
    }
    current.clear();
}

/// The installation's signing key, as checkpoints need it (the key file and the
/// Ed25519 arithmetic live in ops).
pub trait CheckpointSigner: Send + Sync {
    /// The public key, hex.
    fn public_key(&self) -> String;
    /// The signature of `message`, hex.
    fn sign(&self, message: &[u8]) -> String;
}

/// Records a signed checkpoint of the organization's chain heads now: every customer
/// with at least one entry, by customer.
pub async fn take_checkpoint(
    store: &dyn Store,
    org: OrgId,
    signer: &dyn CheckpointSigner,
    now: time::OffsetDateTime,
) -> Result<Checkpoint, StoreError> {
    let mut heads: Vec<CheckpointHead> = store
        .chain_heads(Some(org))
        .await?
        .into_iter()
        .filter_map(|h| {
            h.hash.map(|hash| CheckpointHead {
                customer: h.customer,
                seq: h.seq,
                hash,
            })
        })
        .collect();
    heads.sort_by_key(|h| h.customer.0);
    let mut checkpoint = Checkpoint {
        id: crate::store::new_id(),
        org,
        created_at: now,
        customers: heads.len() as i64,
        entries: heads.iter().map(|h| h.seq).sum(),
        root: heads_root(&heads),
        heads,
        public_key: signer.public_key(),
        signature: String::new(),
    };
    checkpoint.signature = signer.sign(&checkpoint.message());
    store.insert_checkpoint(org, &checkpoint).await?;
    Ok(checkpoint)
}

/// Checkpoints an organization's admin sees at most in one list.
pub const CHECKPOINT_LIST: u32 = 100;

/// One of the organization's checkpoints, as its list shows it (the heads are in the
/// file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointSummary {
    /// Id: the file is `GET .../checkpoints/{id}`.
    pub id: uuid::Uuid,
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: time::OffsetDateTime,
    /// Customers recorded.
    pub customers: i64,
    /// Entries covered.
    pub entries: i64,
    /// The root of the heads, 64 hex digits.
    pub root: String,
    /// The installation's Ed25519 public key that signed it, hex.
    pub public_key: String,
}

/// The organization's signed checkpoints, newest first (at most
/// [`CHECKPOINT_LIST`]). Admins only.
pub async fn list_checkpoints(ctx: &Ctx<'_>) -> Result<Vec<CheckpointSummary>, Error> {
    ctx.require(ADMIN, "download the ledger's checkpoints")?;
    Ok(ctx
        .store
        .checkpoints(ctx.org.id, CHECKPOINT_LIST)
        .await?
        .into_iter()
        .map(|c| CheckpointSummary {
            id: c.id,
            created_at: c.created_at,
            customers: c.customers,
            entries: c.entries,
            root: c.root.to_string(),
            public_key: c.public_key,
        })
        .collect())
}

/// One of the organization's checkpoints with its heads and signature: the file an
/// auditor keeps ([`Checkpoint::to_file`]). Admins only; another organization's
/// checkpoint is not found.
pub async fn checkpoint_file(ctx: &Ctx<'_>, id: uuid::Uuid) -> Result<Checkpoint, Error> {
    ctx.require(ADMIN, "download the ledger's checkpoints")?;
    ctx.store
        .checkpoint(ctx.org.id, id)
        .await?
        .ok_or_else(|| Error::NotFound(ErrorCode::CheckpointNotFound, format!("checkpoint {id}")))
}
