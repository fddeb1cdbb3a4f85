//! Domain types. Each is built by parsing untrusted input once; after that it is valid
//! by construction and the rest of the code never re-checks it.

pub mod chain;
mod ids;
pub mod ledger;
mod locale;
mod member_data;
mod org;
mod person;
pub mod points;
pub mod program;
pub mod recorder;
mod role;
mod slug;
pub mod typed_amount;
mod written;

pub use ids::{ApiTokenId, CustomerId, LedgerEntryId, PurchaseId, RewardId};
pub use locale::{CountryCode, CurrencyCode, LanguageTag, TimeZoneName};
pub use member_data::{BirthDate, CardNumber, ConsentSource, MarketingConsent, parse_yes_no};
pub use org::{
    NewOrganization, OrgId, OrgName, OrgStatus, Organization, OrganizationSummary, Plan,
};
pub use person::{Email, PersonName, Phone, Username};
pub use role::{GroupName, Membership, Role, resolve_memberships};
pub use slug::OrgSlug;
pub use written::Language;
