//! Storage of members' Apple Wallet passes for Apple's PassKit web service: the pass of a
//! member (when it last changed, whether it is void), the hashes of its authentication
//! tokens, and the devices registered for its updates.

use crate::domain::ledger::AuditRecord;
use crate::domain::{CustomerId, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// A member's pass as the web service sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletPass {
    /// The member.
    pub customer: CustomerId,
    /// When what the pass shows last changed, in microseconds since the epoch; moves
    /// forward by at least a second with each change, so a second-precise
    /// `If-Modified-Since` always sees it.
    pub updated_us: i64,
    /// Whether the pass is void (the member was erased).
    pub voided: bool,
}

/// Whom a row of the wallet outbox tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// An Apple device, by its APNs push token.
    Apns,
    /// Google Wallet, the member's loyalty object (target: the customer id).
    Google,
}

impl PushKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Apns => "apns",
            PushKind::Google => "google",
        }
    }

    /// From the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "apns" => Some(PushKind::Apns),
            "google" => Some(PushKind::Google),
            _ => None,
        }
    }
}

/// The three colours of a shop's cards, each `#rrggbb` in lower case (checked by
/// `service::wallet::look`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletColours {
    /// The card's background.
    pub background: String,
    /// Field values.
    pub foreground: String,
    /// Field labels.
    pub label: String,
}

/// A shop's logo for its cards: a PNG checked by `service::wallet::look::parse_logo`.
#[derive(Clone, PartialEq, Eq)]
pub struct WalletLogo {
    /// The PNG file.
    pub png: Vec<u8>,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for WalletLogo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WalletLogo({} bytes, {}x{})",
            self.png.len(),
            self.width,
            self.height
        )
    }
}

/// The look an admin gave the shop's cards; the built-in look where a part is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletLook {
    /// The colours, all three or none.
    pub colours: Option<WalletColours>,
    /// The logo.
    pub logo: Option<WalletLogo>,
}

/// A row of the wallet outbox, claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedPush {
    /// The outbox row.
    pub id: Uuid,
    /// The organization whose card changed.
    pub org: OrgId,
    /// Whether that organization is active (a suspended shop's cards show it).
    pub org_active: bool,
    /// Whom to tell.
    pub kind: PushKind,
    /// The device's APNs push token, or the member's customer id.
    pub target: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// When the change was queued.
    pub created_at: OffsetDateTime,
}

/// Members' wallet passes. Every method takes the organization first and touches only
/// its rows. A points change moves its member's pass in the change's own transaction
/// (`LedgerTx::wallet_pass_changed`).
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Records a download of `customer`'s pass: the pass (made at `now` when new) and the
    /// hash of the fresh authentication token the download carries. Returns the pass.
    async fn issue_wallet_pass(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<WalletPass, StoreError>;
    /// `customer`'s pass when `token_hash` is the hash of one of its authentication
    /// tokens; `None` otherwise (no pass, or another pass's token).
    async fn wallet_pass_by_token(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
    ) -> Result<Option<WalletPass>, StoreError>;
    /// Registers `device` for updates of `customer`'s pass with its push token (a device
    /// registering again keeps its registration and takes the new push token). `true`
    /// when the registration is new.
    async fn register_wallet_device(
        &self,
        org: OrgId,
        customer: CustomerId,
        device: &str,
        push_token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Ends `device`'s registration for `customer`'s pass; `false` when there was none.
    async fn unregister_wallet_device(
        &self,
        org: OrgId,
        customer: CustomerId,
        device: &str,
    ) -> Result<bool, StoreError>;
    /// The passes `device` registered in the organization that changed after
    /// `since_us` (all of them with `None`), oldest change first.
    async fn wallet_passes_for_device(
        &self,
        org: OrgId,
        device: &str,
        since_us: Option<i64>,
    ) -> Result<Vec<WalletPass>, StoreError>;
    /// Claims up to `limit` due pushes (not sent, not given up, next attempt due, no live
    /// claim) until `lease_until`, counting an attempt for each. Across all
    /// organizations: the sender's view. Two senders never hold the same push.
    async fn claim_wallet_pushes(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedPush>, StoreError>;
    /// Records that APNs accepted a push.
    async fn mark_wallet_push_sent(
        &self,
        id: Uuid,
        status: i32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Records a failed attempt: retry at `retry_at`, or give up when `None`.
    async fn mark_wallet_push_failed(
        &self,
        id: Uuid,
        status: Option<i32>,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Records that `customer`'s "Save to Google Wallet" link was made, so their
    /// points changes update their Google Wallet object from then on.
    async fn record_google_object(
        &self,
        org: OrgId,
        customer: CustomerId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The look the organization's admin gave its cards (`None`: never set).
    async fn wallet_look(&self, org: OrgId) -> Result<Option<WalletLook>, StoreError>;
    /// Replaces the organization's look and, in the same transaction, writes `audit`,
    /// moves every pass of the organization forward and queues one outbox row for each
    /// registered Apple device, so phones fetch the new look. Returns how many passes
    /// moved.
    async fn set_wallet_look(
        &self,
        org: OrgId,
        look: &WalletLook,
        audit: &AuditRecord,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Keeps a link to `customer`'s card (the hash of its token) that opens once until
    /// `expires_at`.
    async fn insert_wallet_link(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Uses the organization's link whose token hashes to `token_hash`: its member when
    /// it was not used and has not expired at `now` (it is then used); `None` otherwise.
    /// Two requests never both use one link.
    async fn use_wallet_link(
        &self,
        org: OrgId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<CustomerId>, StoreError>;
    /// Ends every registration of the organization with `push_token` (APNs answered that
    /// the device no longer takes pushes). Returns how many ended.
    async fn forget_wallet_push_token(
        &self,
        org: OrgId,
        push_token: &str,
    ) -> Result<u64, StoreError>;
}

/// `now` in microseconds since the epoch.
pub fn micros(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}
