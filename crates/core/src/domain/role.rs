//! Roles inside an organization, and how identity-provider group names map to them.
//!
//! A group name is `{prefix}-{role}s`. It is parsed by matching a known role suffix at
//! the end, never by splitting at the first hyphen, because prefixes may contain hyphens
//! (`fresh-mart-cashiers`). Groups that do not end in a known suffix after a well-formed
//! prefix (`pending-users`, `authentik Admins`) are not ours and are ignored.

use std::fmt;

/// A person's role in one organization. Singular in the database, plural in group names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Manages staff, customers, rules and reports of the organization.
    Admin,
    /// Records purchases and awards or redeems points at the till.
    Cashier,
    /// Sees their own balance and history.
    Customer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Cashier, Role::Customer];

    /// The singular name stored in the database (`admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Cashier => "cashier",
            Role::Customer => "customer",
        }
    }

    /// The plural suffix used in group names (`admins`).
    pub fn group_suffix(self) -> &'static str {
        match self {
            Role::Admin => "admins",
            Role::Cashier => "cashiers",
            Role::Customer => "customers",
        }
    }

    /// Parses the singular database form.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The group that gives `role` in the organization with group prefix `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupName {
    /// The organization's group prefix (its slug by default).
    pub prefix: String,
    /// The role the group gives.
    pub role: Role,
}

impl GroupName {
    /// The group for `role` under `prefix`.
    pub fn new(prefix: &str, role: Role) -> Self {
        Self {
            prefix: prefix.to_owned(),
            role,
        }
    }

    /// Parses a group name by its role suffix; `None` for groups that are not ours.
    pub fn parse(name: &str) -> Option<Self> {
        Role::ALL.into_iter().find_map(|role| {
            let prefix = name.strip_suffix(role.group_suffix())?.strip_suffix('-')?;
            is_prefix(prefix).then(|| Self::new(prefix, role))
        })
    }

    /// The full group name (`nextdoor-admins`).
    pub fn name(&self) -> String {
        format!("{}-{}", self.prefix, self.role.group_suffix())
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.prefix, self.role.group_suffix())
    }
}

/// Whether `s` has the shape of a slug (lowercase letters, digits, single inner hyphens).
fn is_prefix(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A role a person holds in the organization with group prefix `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Membership {
    /// The organization's group prefix.
    pub prefix: String,
    /// The role held there.
    pub role: Role,
}

/// Every organization role that a list of group names gives, sorted and without
/// duplicates. Foreign groups are ignored.
pub fn resolve_memberships<S: AsRef<str>>(groups: &[S]) -> Vec<Membership> {
    let mut out: Vec<Membership> = groups
        .iter()
        .filter_map(|g| GroupName::parse(g.as_ref()))
        .map(|g| Membership {
            prefix: g.prefix,
            role: g.role,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(prefix: &str, role: Role) -> Membership {
        Membership {
            prefix: prefix.into(),
            role,
        }
    }

    #[test]
    fn group_names_resolve_to_roles_by_their_suffix() {
        let table: &[(&[&str], Vec<Membership>)] = &[
            (&["nextdoor-admins"], vec![m("nextdoor", Role::Admin)]),
            (
                &["fresh-mart-cashiers"],
                vec![m("fresh-mart", Role::Cashier)],
            ),
            (&["pending-users"], vec![]),
            (&["authentik Admins"], vec![]),
            (
                &["nextdoor-customers", "carrefour-cashiers"],
                vec![m("carrefour", Role::Cashier), m("nextdoor", Role::Customer)],
            ),
            (
                &["a-b-c-admins", "a-b-c-admins"],
                vec![m("a-b-c", Role::Admin)],
            ),
            (
                &[
                    "-admins",
                    "admins",
                    "x--y-admins",
                    "Nextdoor-admins",
                    "nextdoor-admin",
                ],
                vec![],
            ),
            (&["loyalty-operators"], vec![]),
        ];
        for (groups, expected) in table {
            assert_eq!(&resolve_memberships(groups), expected, "{groups:?}");
        }
    }

    #[test]
    fn group_names_round_trip() {
        let g = GroupName::new("fresh-mart", Role::Customer);
        assert_eq!(g.name(), "fresh-mart-customers");
        assert_eq!(GroupName::parse(&g.name()), Some(g));
    }
}
