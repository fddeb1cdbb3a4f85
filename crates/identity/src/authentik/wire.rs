//! The parts of Authentik's JSON objects this client reads (schema names in brackets).
//! Everything else in an answer is ignored, so newer Authentik versions that add fields
//! keep working.

use loyalty_core::directory::{DirGroup, DirUser};
use serde::Deserialize;

/// A user (`User`).
#[derive(Debug, Deserialize)]
pub(super) struct User {
    pub pk: i64,
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    pub uid: String,
    #[serde(default)]
    pub date_joined: Option<String>,
    #[serde(default)]
    pub password_change_date: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub attributes: serde_json::Value,
    /// The groups it is in (`UserGroup`), when asked with `include_groups=true`.
    #[serde(default)]
    pub groups_obj: Option<Vec<GroupRef>>,
}

/// A group as a user lists it (`UserGroup`).
#[derive(Debug, Deserialize)]
pub(super) struct GroupRef {
    pub name: String,
}

fn yes() -> bool {
    true
}

impl User {
    /// Whether this is a service account (an API or outpost identity), never a person.
    pub fn is_service_account(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("service_account" | "internal_service_account")
        )
    }
}

impl From<User> for DirUser {
    fn from(u: User) -> Self {
        DirUser {
            pk: u.pk,
            uid: u.uid,
            username: u.username,
            name: u.name,
            email: u.email.filter(|e| !e.is_empty()),
            is_active: u.is_active,
            has_password: password_chosen(
                u.date_joined.as_deref(),
                u.password_change_date.as_deref(),
            ),
            attributes: u.attributes,
        }
    }
}

/// How long after the account was made a password change counts as a password chosen
/// afterwards (through a link, or by an admin) rather than the account's creation.
pub(super) const PASSWORD_CHOSEN_AFTER: time::Duration = time::Duration::seconds(60);

/// Whether a password was set after the account was made. Authentik does not say whether
/// a user has a usable password, but it records `password_change_date`, which a user
/// made without one carries from its creation (milliseconds after `date_joined`).
/// `None` when either date is missing or unreadable.
pub(super) fn password_chosen(joined: Option<&str>, changed: Option<&str>) -> Option<bool> {
    use time::format_description::well_known::Rfc3339;
    let joined = time::OffsetDateTime::parse(joined?, &Rfc3339).ok()?;
    let changed = time::OffsetDateTime::parse(changed?, &Rfc3339).ok()?;
    Some(changed - joined >= PASSWORD_CHOSEN_AFTER)
}

/// A group (`Group`); its `pk` is a UUID.
#[derive(Debug, Deserialize)]
pub(super) struct Group {
    pub pk: String,
    pub name: String,
}

impl From<Group> for DirGroup {
    fn from(g: Group) -> Self {
        DirGroup {
            pk: g.pk,
            name: g.name,
        }
    }
}

/// One page of a list (`Paginated*List`).
#[derive(Debug, Deserialize)]
pub(super) struct Page<T> {
    pub pagination: Pagination,
    pub results: Vec<T>,
}

/// Where a page is in its list (`Pagination`); page numbers, `next` is 0 on the last page.
#[derive(Debug, Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    pub next: Option<f64>,
}

impl Pagination {
    /// The next page number, if there is one.
    pub fn next_page(&self) -> Option<u64> {
        // The schema types page numbers as `number`; anything not a positive whole
        // number means "no next page".
        self.next
            .filter(|n| n.is_finite() && *n >= 1.0 && n.fract() == 0.0 && *n < 1e15)
            .map(|n| n as u64)
    }
}

/// A link (`Link`).
#[derive(Debug, Deserialize)]
pub(super) struct Link {
    pub link: String,
}

/// The token's own user (`SessionUser`).
#[derive(Debug, Deserialize)]
pub(super) struct SessionUser {
    pub user: UserSelf,
}

/// The token's own user (`UserSelf`).
#[derive(Debug, Deserialize)]
pub(super) struct UserSelf {
    pub pk: i64,
    pub username: String,
    #[serde(default)]
    pub is_superuser: bool,
}

/// A flow (`Flow`); its `pk` is a UUID.
#[derive(Debug, Deserialize)]
pub(super) struct Flow {
    pub pk: String,
    pub slug: String,
    #[serde(default)]
    pub designation: Option<String>,
}

/// A stage of any kind (`Stage`, and the `*Stage` objects); its `pk` is a UUID.
#[derive(Debug, Deserialize)]
pub(super) struct Stage {
    pub pk: String,
    pub name: String,
    #[serde(default)]
    pub meta_model_name: Option<String>,
}

/// A stage bound to a flow (`FlowStageBinding`).
#[derive(Debug, Deserialize)]
pub(super) struct Binding {
    pub target: String,
    pub order: i64,
    pub stage_obj: Stage,
}

/// A prompt field (`Prompt`).
#[derive(Debug, Deserialize)]
pub(super) struct Prompt {
    pub pk: String,
    pub name: String,
}

/// The brand that answers the API's own address (`CurrentBrand`); its flows are
/// slugs, and a flow not set is left out.
#[derive(Debug, Deserialize)]
pub(super) struct CurrentBrand {
    pub matched_domain: String,
    #[serde(default)]
    pub flow_recovery: Option<String>,
}

/// A brand (`Brand`).
#[derive(Debug, Deserialize)]
pub(super) struct Brand {
    pub brand_uuid: String,
    pub domain: String,
}

/// A scope mapping (`ScopeMapping`).
#[derive(Debug, Deserialize)]
pub(super) struct ScopeMapping {
    pub pk: String,
    pub scope_name: String,
    #[serde(default)]
    pub managed: Option<String>,
}

/// A certificate-key pair (`CertificateKeyPair`).
#[derive(Debug, Deserialize)]
pub(super) struct CertificateKeyPair {
    pub pk: String,
    pub name: String,
    #[serde(default)]
    pub key_type: Option<String>,
}

/// One allowed redirect URI of a provider (`RedirectURI`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub(super) struct RedirectUri {
    pub matching_mode: String,
    pub url: String,
}

/// An OAuth2/OpenID provider (`OAuth2Provider`).
#[derive(Debug, Deserialize)]
pub(super) struct OAuth2Provider {
    pub pk: i64,
    pub name: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    #[serde(default)]
    pub property_mappings: Vec<String>,
    #[serde(default)]
    pub signing_key: Option<String>,
    #[serde(default)]
    pub assigned_application_slug: Option<String>,
    #[serde(default)]
    pub invalidation_flow: Option<String>,
}

/// An application (`Application`).
#[derive(Debug, Deserialize)]
pub(super) struct Application {
    pub slug: String,
    #[serde(default)]
    pub provider: Option<i64>,
}
