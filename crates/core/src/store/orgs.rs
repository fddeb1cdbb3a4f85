//! Storage of organizations and of the people in them (member rows).

use crate::domain::ledger::Actor;
use crate::domain::{
    NewOrganization, OrgId, OrgSlug, OrgStatus, Organization, OrganizationSummary, Role,
};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// A person's row in one organization (the `users` table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Member {
    /// Row id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: OrgId,
    /// Subject at the identity provider (built-in uid or Authentik `sub`); none for a
    /// customer enrolled at the till who has no account yet.
    pub identity_subject: Option<String>,
    /// Role in the organization.
    pub role: Role,
    /// `active`, `pending` or `suspended`.
    pub status: String,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A new or updated member row.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Subject at the identity provider.
    pub identity_subject: String,
    /// Role.
    pub role: Role,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Who created the row (member id), if a person did.
    pub created_by: Option<Uuid>,
}

/// Whether an onboarding run may go on with an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnboardingClaim {
    /// This run holds the claim now.
    Claimed,
    /// Another run holds it until then.
    Held {
        /// When that claim lapses.
        until: OffsetDateTime,
    },
    /// The organization is not in status `onboarding` (or is gone): nothing to claim.
    NotOnboarding,
}

/// Storage of organizations and their members.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an organization; `StoreError::Conflict` when the slug is taken.
    async fn insert_organization(
        &self,
        new: &NewOrganization,
        status: OrgStatus,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError>;

    /// Claims the onboarding of the organization `slug`, in status `onboarding`, for the
    /// run `run` until `until`, unless another run's claim is still good at `now`.
    async fn claim_onboarding(
        &self,
        slug: &OrgSlug,
        run: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<OnboardingClaim, StoreError>;

    /// Gives up the claim of run `run` on `slug` (nothing when another run holds it).
    async fn release_onboarding(&self, slug: &OrgSlug, run: &str) -> Result<(), StoreError>;

    /// The organization with this slug, whatever its status (deleted ones excluded).
    async fn organization_by_slug(
        &self,
        slug: &OrgSlug,
    ) -> Result<Option<Organization>, StoreError>;

    /// The organizations whose group prefix is one of `prefixes`, by slug.
    async fn organizations_by_group_prefix(
        &self,
        prefixes: &[String],
    ) -> Result<Vec<Organization>, StoreError>;

    /// Every organization with member counts, by slug.
    async fn list_organizations(&self) -> Result<Vec<OrganizationSummary>, StoreError>;

    /// Moves an organization from one of `from` to `to`, with an audit record of `actor`
    /// (see [`OrgStatus::change_action`]) in the same transaction; returns the row after
    /// the change, or the unchanged row (and no record) when its status was not in
    /// `from`, or `None`.
    async fn set_organization_status(
        &self,
        slug: &OrgSlug,
        from: &[OrgStatus],
        to: OrgStatus,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Organization>, StoreError>;

    /// Creates the member row for (org, subject) or updates its role, email and name.
    async fn upsert_member(
        &self,
        org: OrgId,
        member: &NewMember,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError>;

    /// The member row of a subject in an organization.
    async fn member_by_subject(
        &self,
        org: OrgId,
        subject: &str,
    ) -> Result<Option<Member>, StoreError>;

    /// Members of an organization, optionally of one role, oldest first.
    async fn list_members(&self, org: OrgId, role: Option<Role>)
    -> Result<Vec<Member>, StoreError>;
}
