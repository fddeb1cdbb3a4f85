//! Storage of the API tokens of tills and integrations (by hash, never in clear).

use crate::domain::ledger::{Actor, ApiToken};
use crate::domain::{ApiTokenId, OrgId, Organization, Role};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// API tokens. Writes take the organization first; the look-ups by hash cross
/// organizations because a request names its organization only through its token.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new API token (by hash).
    async fn insert_api_token(
        &self,
        org: OrgId,
        name: &str,
        role: Role,
        token_hash: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ApiToken, StoreError>;
    /// The live token with this hash, in any organization.
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;
    /// The live token with this hash and its organization, in one read (the hot path of
    /// every till request).
    async fn api_token_with_org(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, Organization)>, StoreError>;
    /// Revokes a token; `false` if unknown in this org.
    async fn revoke_api_token(
        &self,
        org: OrgId,
        id: ApiTokenId,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Tokens of an org.
    async fn list_api_tokens(&self, org: OrgId) -> Result<Vec<ApiToken>, StoreError>;
}
