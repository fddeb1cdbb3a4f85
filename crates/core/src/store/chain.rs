//! Storage of the ledger's hash chain: the customers' heads, the entries with their
//! stored hashes in chain order, the backfill of entries older than the chain, and the
//! signed checkpoints of each organization's heads.

use crate::domain::chain::{Checkpoint, Head, StoredEntry};
use crate::domain::{CustomerId, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;

/// Where a page of [`ChainStore::chain_page`] resumes: after this organization,
/// customer and sequence number.
pub type ChainCursor = (OrgId, CustomerId, i64);

/// The hash chain of the ledger. Reads take the organization (or `None` for every
/// organization, for `loyalty points verify`).
#[async_trait]
pub trait ChainStore: Send + Sync {
    /// The chain head of every customer of one organization or all.
    async fn chain_heads(&self, org: Option<OrgId>) -> Result<Vec<Head>, StoreError>;
    /// Up to `limit` entries with their stored hashes, of one organization or all,
    /// ordered by organization, customer and sequence number, after `after`.
    async fn chain_page(
        &self,
        org: Option<OrgId>,
        after: Option<ChainCursor>,
        limit: u32,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// Gives the entries written before the chain existed their hashes (computed by
    /// `domain::chain`), customer by customer in sequence order, and sets the heads.
    /// Run by `migrate`; a second run finds nothing to do. Returns the entries hashed.
    async fn backfill_chain(&self) -> Result<u64, StoreError>;
    /// Stores a signed checkpoint of the organization's heads.
    async fn insert_checkpoint(
        &self,
        org: OrgId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError>;
    /// The organization's checkpoints, newest first, at most `limit`.
    async fn checkpoints(&self, org: OrgId, limit: u32) -> Result<Vec<Checkpoint>, StoreError>;
    /// One of the organization's checkpoints.
    async fn checkpoint(
        &self,
        org: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<Checkpoint>, StoreError>;
}
