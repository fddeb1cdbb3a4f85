//! Ids of the ledger's resources as their own types, so a purchase id cannot be passed
//! where a customer id is wanted. Each is a UUID on the wire (transparent in JSON, a
//! `uuid` string in the OpenAPI document) and prints and parses as one.
//!
//! Entities, requests and the store traits hold these types; each store converts them
//! to and from its UUID columns in its row mapping, and web handlers parse path
//! parameters straight into them.
//!
//! One kind of id is not another:
//!
//! ```
//! use loyalty_core::domain::CustomerId;
//! fn balance_of(customer: CustomerId) -> CustomerId {
//!     customer
//! }
//! let customer = CustomerId(uuid::Uuid::now_v7());
//! assert_eq!(balance_of(customer), customer);
//! ```
//!
//! ```compile_fail
//! use loyalty_core::domain::{CustomerId, RewardId};
//! fn balance_of(customer: CustomerId) -> CustomerId {
//!     customer
//! }
//! let reward = RewardId(uuid::Uuid::now_v7());
//! balance_of(reward); // a reward's id is not a customer's
//! ```

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A customer's id.
    CustomerId
);
uuid_id!(
    /// A purchase's id.
    PurchaseId
);
uuid_id!(
    /// A reward's id.
    RewardId
);
uuid_id!(
    /// A ledger entry's id.
    LedgerEntryId
);
uuid_id!(
    /// An API token's id.
    ApiTokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_uuids() {
        let id = Uuid::new_v4();
        let c = CustomerId(id);
        assert_eq!(c.to_string(), id.to_string());
        assert_eq!(c.to_string().parse::<CustomerId>().expect("parses"), c);
        assert!("not-a-uuid".parse::<PurchaseId>().is_err());
        assert_eq!(
            serde_json::to_value(RewardId(id)).expect("json"),
            serde_json::json!(id.to_string())
        );
    }
}
