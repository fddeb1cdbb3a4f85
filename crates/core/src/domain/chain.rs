//! The hash chain of the ledger: each entry's hash covers a canonical encoding of its
//! own content and the hash of the customer's previous entry, so an entry changed,
//! deleted or inserted in the database breaks the chain from that point on
//! ([integrity.md](../../../../docs/integrity.md)). Written once here; both stores keep
//! the bytes this module computes and never compute them themselves.
//!
//! One chain per customer: the award path already holds the customer's balance row
//! when it writes the entry, so the head is read and written under that lock and
//! concurrent awards of different customers never wait for each other.

use crate::domain::ledger::LedgerEntry;
use crate::domain::{CustomerId, LedgerEntryId, OrgId};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The domain separator and version of the encoding: a new encoding gets a new tag.
const TAG: &[u8] = b"loyalty.ledger.v1";

/// A SHA-256 link of the chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The "previous hash" of a customer's first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Reads 32 stored bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<ChainHash> {
        <[u8; 32]>::try_from(bytes).ok().map(ChainHash)
    }

    /// Reads 64 hex digits.
    pub fn from_hex(s: &str) -> Option<ChainHash> {
        hex::decode(s.trim())
            .ok()
            .and_then(|b| Self::from_slice(&b))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// Where an entry sits in its customer's chain: its sequence number and the hash of
/// the entry before it ([`ChainHash::GENESIS`] for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The entry's sequence number (1 for a customer's first).
    pub seq: i64,
    /// The previous entry's hash.
    pub prev: ChainHash,
}

/// The hash of a ledger entry of `org` at `seq`, chained to `prev`.
///
/// The encoding is fixed-width where it can be and length-prefixed where it cannot,
/// so no two different entries encode alike: tag, previous hash, organization,
/// entry id, customer, sequence number, points, kind, reference, balance after,
/// notes, author, and the time in whole microseconds since 1970 (what both databases
/// keep). The idempotency key is not covered: it changes nothing in the balance.
pub fn entry_hash(org: OrgId, entry: &LedgerEntry, seq: i64, prev: &ChainHash) -> ChainHash {
    let mut h = Sha256::new();
    h.update(TAG);
    h.update(prev.0);
    h.update(org.0.as_bytes());
    h.update(entry.id.0.as_bytes());
    h.update(entry.customer_id.0.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(entry.points.to_be_bytes());
    text(&mut h, Some(entry.transaction_type.as_str()));
    uuid(&mut h, entry.reference_id);
    text(&mut h, entry.reference_type.as_deref());
    h.update(entry.balance_after.to_be_bytes());
    text(&mut h, entry.notes.as_deref());
    uuid(&mut h, entry.created_by);
    h.update(micros(entry.created_at).to_be_bytes());
    ChainHash(h.finalize().into())
}

/// Microseconds since 1970, truncated as both databases store them.
fn micros(t: OffsetDateTime) -> i64 {
    let nanos = (t - OffsetDateTime::UNIX_EPOCH).whole_microseconds();
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

fn text(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

fn uuid(h: &mut Sha256, id: Option<Uuid>) {
    match id {
        None => h.update([0u8]),
        Some(id) => {
            h.update([1u8]);
            h.update(id.as_bytes());
        }
    }
}

/// A stored entry as the chain walk reads it: the entry, its sequence number and the
/// hash stored beside it (`None` when the column is empty).
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The organization.
    pub org: OrgId,
    /// The entry.
    pub entry: LedgerEntry,
    /// Its sequence number.
    pub seq: i64,
    /// The hash stored with it.
    pub hash: Option<ChainHash>,
}

/// A customer's chain head as stored on the customer's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The organization.
    pub org: OrgId,
    /// The customer.
    pub customer: CustomerId,
    /// The sequence number of the customer's last entry (0 for none).
    pub seq: i64,
    /// The hash of the last entry (`None` when the customer has no entry).
    pub hash: Option<ChainHash>,
}

/// What is wrong at the first entry that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The entry's content or place no longer matches its hash: it was changed (or
    /// entries before it were deleted or inserted and the rest renumbered).
    Changed,
    /// The entry is not part of the chain (its neighbours link around it): it was
    /// inserted.
    Inserted,
    /// Entries before this one are missing (its sequence number jumps, or it no longer
    /// links to the entry before it): they were deleted.
    Deleted,
    /// The customer's recorded head is past this entry, the last one found: entries
    /// after it were deleted.
    DeletedAfter,
    /// The entry differs from what a signed checkpoint recorded at its place.
    CheckpointMismatch,
}

impl Failure {
    /// The failure in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Failure::Changed => {
                "changed: its content or its place no longer matches its hash (or an entry before it was deleted or inserted)"
            }
            Failure::Inserted => "inserted: it is not part of the chain",
            Failure::Deleted => "entries before it were deleted",
            Failure::DeletedAfter => "entries after it were deleted",
            Failure::CheckpointMismatch => "differs from the signed checkpoint",
        }
    }
}

/// The first entry that fails a chain walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    /// The organization.
    pub org: OrgId,
    /// The customer whose chain breaks.
    pub customer: CustomerId,
    /// The entry named (`None` when the customer has no entry left at all).
    pub entry: Option<LedgerEntryId>,
    /// Its sequence number (0 with no entry).
    pub seq: i64,
    /// What is wrong.
    pub failure: Failure,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.entry {
            Some(id) => write!(
                f,
                "entry {id} (customer {}, seq {}): {}",
                self.customer,
                self.seq,
                self.failure.describe()
            ),
            None => write!(f, "customer {}: {}", self.customer, self.failure.describe()),
        }
    }
}

/// Checks one customer's chain, entries in sequence order, against the head stored on
/// the customer's row. Returns the first entry that fails, or `None`.
pub fn check_customer(entries: &[StoredEntry], head: &Head) -> Option<Broken> {
    let broken = |i: Option<usize>, failure| {
        let e = i.and_then(|i| entries.get(i));
        Some(Broken {
            org: head.org,
            customer: head.customer,
            entry: e.map(|e| e.entry.id),
            seq: e.map(|e| e.seq).unwrap_or(0),
            failure,
        })
    };
    let mut prev = ChainHash::GENESIS;
    let mut prev_seq = 0;
    for (i, e) in entries.iter().enumerate() {
        if e.seq != prev_seq + 1 {
            return broken(Some(i), Failure::Deleted);
        }
        let computed = entry_hash(e.org, &e.entry, e.seq, &prev);
        if e.hash == Some(computed) {
            prev = computed;
            prev_seq = e.seq;
            continue;
        }
        // Tell the three apart by how the next link (or the head) attaches.
        let next_prev = |p: &ChainHash| match entries.get(i + 1) {
            Some(n) => n.hash == Some(entry_hash(n.org, &n.entry, n.seq, p)),
            None => head.hash.as_ref() == Some(p),
        };
        let failure = if next_prev(&prev) {
            Failure::Inserted
        } else {
            Failure::Changed
        };
        return broken(Some(i), failure);
    }
    if head.seq != prev_seq || head.hash.unwrap_or(ChainHash::GENESIS) != prev {
        let last = entries.len().checked_sub(1);
        return broken(last, Failure::DeletedAfter);
    }
    None
}

/// A checkpoint's record of one customer: the sequence number and hash of their last
/// entry when the checkpoint was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointHead {
    /// The customer.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub customer: CustomerId,
    /// The sequence number of their last entry then.
    pub seq: i64,
    /// Its hash, 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub hash: ChainHash,
}

/// The digest of a checkpoint's heads (sorted by customer): what its signature covers
/// beside the organization and the time.
pub fn heads_root(heads: &[CheckpointHead]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(b"loyalty.checkpoint.v1");
    h.update((heads.len() as u64).to_be_bytes());
    for head in heads {
        h.update(head.customer.0.as_bytes());
        h.update(head.seq.to_be_bytes());
        h.update(head.hash.0);
    }
    ChainHash(h.finalize().into())
}

/// Checks a customer's entries (in sequence order) against what a checkpoint recorded:
/// the entry at the recorded sequence number must exist and carry the recorded hash.
/// Run after [`check_customer`], which proves every hash up to there follows from the
/// content, this proves nothing before the checkpoint changed since.
pub fn check_against(
    org: OrgId,
    entries: &[StoredEntry],
    recorded: &CheckpointHead,
) -> Option<Broken> {
    let at = entries.iter().find(|e| e.seq == recorded.seq);
    match at {
        Some(e) if e.hash == Some(recorded.hash) => None,
        Some(e) => Some(Broken {
            org,
            customer: recorded.customer,
            entry: Some(e.entry.id),
            seq: e.seq,
            failure: Failure::CheckpointMismatch,
        }),
        None => Some(Broken {
            org,
            customer: recorded.customer,
            entry: entries.last().map(|e| e.entry.id),
            seq: entries.last().map(|e| e.seq).unwrap_or(0),
            failure: Failure::DeletedAfter,
        }),
    }
}

/// A signed record of one organization's chain heads at one moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub org: OrgId,
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// Customers recorded (those with at least one entry).
    pub customers: i64,
    /// Entries covered (the sum of the recorded sequence numbers).
    pub entries: i64,
    /// [`heads_root`] of `heads`, 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub root: ChainHash,
    /// Each customer's last entry then, sorted by customer.
    pub heads: Vec<CheckpointHead>,
    /// The installation's Ed25519 public key, hex.
    pub public_key: String,
    /// The Ed25519 signature of [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes the signature covers: a tag, the checkpoint's id, the organization,
    /// the time in microseconds, the counts and the root of the heads.
    pub fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(b"loyalty.checkpoint.v1");
        m.extend_from_slice(self.id.as_bytes());
        m.extend_from_slice(self.org.0.as_bytes());
        m.extend_from_slice(&micros(self.created_at).to_be_bytes());
        m.extend_from_slice(&self.customers.to_be_bytes());
        m.extend_from_slice(&self.entries.to_be_bytes());
        m.extend_from_slice(&self.root.0);
        m
    }

    /// The checkpoint file: what `loyalty points checkpoint --out` writes and the admin
    /// panel and API download, and what `points verify --from-checkpoint` reads.
    pub fn to_file(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Whether the heads are sorted, match the root and the counts.
    pub fn consistent(&self) -> bool {
        self.heads
            .windows(2)
            .all(|w| w[0].customer.0 < w[1].customer.0)
            && heads_root(&self.heads) == self.root
            && self.customers == self.heads.len() as i64
            && self.entries == self.heads.iter().map(|h| h.seq).sum::<i64>()
    }
}

/// Heads as stored: 56 bytes each (customer id, sequence number, hash).
pub fn encode_heads(heads: &[CheckpointHead]) -> Vec<u8> {
    let mut out = Vec::with_capacity(heads.len() * 56);
    for h in heads {
        out.extend_from_slice(h.customer.0.as_bytes());
        out.extend_from_slice(&h.seq.to_be_bytes());
        out.extend_from_slice(&h.hash.0);
    }
    out
}

/// Reads [`encode_heads`]' bytes; `None` when they are not whole heads.
pub fn decode_heads(bytes: &[u8]) -> Option<Vec<CheckpointHead>> {
    if !bytes.len().is_multiple_of(56) {
        return None;
    }
    bytes
        .chunks_exact(56)
        .map(|c| {
            Some(CheckpointHead {
                customer: CustomerId(Uuid::from_slice(&c[..16]).ok()?),
                seq: i64::from_be_bytes(c[16..24].try_into().ok()?),
                hash: ChainHash::from_slice(&c[24..])?,
            })
        })
        .collect()
}

impl serde::Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ChainHash::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::TxType;

    fn e(seq: i64, points: i64, after: i64) -> LedgerEntry {
        LedgerEntry {
            id: LedgerEntryId(Uuid::from_u128(seq as u128)),
            customer_id: CustomerId(Uuid::from_u128(7)),
            points,
            transaction_type: TxType::Earned,
            reference_id: None,
            reference_type: None,
            balance_after: after,
            notes: Some("n".into()),
            created_by: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn chain(n: i64) -> (Vec<StoredEntry>, Head) {
        let org = OrgId(Uuid::from_u128(1));
        let mut prev = ChainHash::GENESIS;
        let mut out = Vec::new();
        for seq in 1..=n {
            let entry = e(seq, 10, seq * 10);
            let hash = entry_hash(org, &entry, seq, &prev);
            prev = hash;
            out.push(StoredEntry {
                org,
                entry,
                seq,
                hash: Some(hash),
            });
        }
        let head = Head {
            org,
            customer: CustomerId(Uuid::from_u128(7)),
            seq: n,
            hash: (n > 0).then_some(prev),
        };
        (out, head)
    }

    #[test]
    fn a_clean_chain_holds_and_each_kind_of_tampering_is_named() {
        let (entries, head) = chain(5);
        assert_eq!(check_customer(&entries, &head), None);

        let mut changed = entries.clone();
        changed[2].entry.notes = Some("x".into());
        let b = check_customer(&changed, &head).expect("changed");
        assert_eq!((b.seq, b.failure), (3, Failure::Changed));

        let mut gap = entries.clone();
        gap.remove(1);
        let b = check_customer(&gap, &head).expect("gap");
        assert_eq!((b.seq, b.failure), (3, Failure::Deleted));

        let mut tail = entries.clone();
        tail.pop();
        let b = check_customer(&tail, &head).expect("tail");
        assert_eq!((b.seq, b.failure), (4, Failure::DeletedAfter));

        let mut inserted = entries.clone();
        inserted.push(StoredEntry {
            hash: None,
            ..inserted[4].clone()
        });
        inserted[5].seq = 6;
        let b = check_customer(&inserted, &head).expect("inserted");
        assert_eq!((b.seq, b.failure), (6, Failure::Inserted));
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_link() {
        let org = OrgId(Uuid::from_u128(1));
        let base = e(1, 10, 10);
        let h = entry_hash(org, &base, 1, &ChainHash::GENESIS);
        let mut other = base.clone();
        other.notes = None;
        assert_ne!(h, entry_hash(org, &other, 1, &ChainHash::GENESIS));
        assert_ne!(h, entry_hash(org, &base, 2, &ChainHash::GENESIS));
        assert_ne!(h, entry_hash(org, &base, 1, &h));
        assert_ne!(
            h,
            entry_hash(OrgId(Uuid::from_u128(2)), &base, 1, &ChainHash::GENESIS)
        );
        assert_eq!(ChainHash::from_hex(&h.to_string()), Some(h));
    }
}
