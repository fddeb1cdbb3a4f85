//! What each till sent of the purchases it recorded offline, for the admin: last send,
//! purchases landed, refusals (docs/till.md); and the installation's secret that signs
//! the tills' recorder tokens.

use crate::domain::OrgId;
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// One purchase a till sent after recording it offline, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TillSync {
    /// The till: a random id the device made once and keeps.
    pub device: Uuid,
    /// Who was signed in on it (the account's name as the audit log shows it).
    pub cashier: String,
    /// When it was sent.
    pub at: OffsetDateTime,
    /// `None` when it was recorded; the refusal's error code otherwise.
    pub refused: Option<String>,
    /// Whether it was a redemption (counted apart from purchases when it lands).
    pub redemption: bool,
}

/// A till (device and person signed in on it) as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TillDevice {
    /// The device's id.
    pub device: Uuid,
    /// Who was signed in on it.
    pub cashier: String,
    /// When it last sent a purchase.
    pub last_sync_at: OffsetDateTime,
    /// Purchases recorded offline that landed (a second send of one is not counted).
    pub offline_purchases: i64,
    /// Redemptions recorded offline that landed.
    pub offline_redemptions: i64,
    /// Purchases refused when sent.
    pub refusals: i64,
    /// The last refusal's error code and when it happened.
    pub last_refusal: Option<(String, OffsetDateTime)>,
}

/// The tills' sending record.
#[async_trait]
pub trait TillStore {
    /// Counts one sent purchase for the device and person: its time as the last send,
    /// one more landed purchase, or one more refusal with its code.
    async fn record_till_sync(&self, org: OrgId, sync: &TillSync) -> Result<(), StoreError>;
    /// The organization's tills, the most recently sending first, at most `limit`.
    async fn till_devices(&self, org: OrgId, limit: u32) -> Result<Vec<TillDevice>, StoreError>;
    /// The installation's secret that signs the tills' recorder tokens
    /// ([`crate::domain::recorder`]): random, made by migration 0037, the same for
    /// every organization and every instance on this database.
    async fn till_recorder_secret(&self) -> Result<String, StoreError>;
    /// Sets the points a customer may redeem offline per day (0 refuses), with its
    /// `org.offline_redeem_limit` audit record.
    async fn set_offline_redeem_limit(
        &self,
        org: OrgId,
        limit: i64,
        actor: &crate::domain::ledger::Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}
