//! Who is acting, in which organization, with which role: decided here and nowhere else.
//!
//! The web layer reads a bearer token or a session cookie into a [`Principal`] and calls
//! [`enter`] (the API) or [`verify`] then [`enter_verified`] (pages, which also show
//! things outside any organization). [`verify`] is the per-request check that the
//! principal may still act; [`enter_verified`] holds the one role rule. The result,
//! [`Access`], builds the use cases' [`Ctx`].

use crate::Error;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::domain::ledger::{Actor, ApiToken};
use crate::domain::{OrgSlug, OrgStatus, Organization, Role, resolve_memberships};
use crate::error::ErrorCode;
use crate::service::points::Ctx;
use crate::store::{Account, ExternalSubject, SessionPrincipal, Store};
use uuid::Uuid;

/// What access decisions read: storage, the directory (for built-in accounts' groups),
/// the clock, and the name of the operators' group.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// The identity provider's directory.
    pub directory: &'a dyn Directory,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Group whose members are operators of the installation.
    pub operators_group: &'a str,
}

/// An organization's API token with the organization it belongs to (read together, the
/// hot path of every till request).
#[derive(Debug, Clone)]
pub struct OrgToken {
    /// The token.
    pub token: ApiToken,
    /// Its organization.
    pub org: Organization,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A built-in account (signed in with a password).
    Account(Account),
    /// A subject of the identity provider, with the groups it presented.
    Subject(ExternalSubject),
    /// An organization's API token (a till device); boxed, as it carries its
    /// organization.
    Token(Box<OrgToken>),
}

impl From<SessionPrincipal> for Principal {
    fn from(p: SessionPrincipal) -> Self {
        match p {
            SessionPrincipal::Account(a) => Principal::Account(a),
            SessionPrincipal::Subject(s) => Principal::Subject(s),
        }
    }
}

impl Principal {
    /// The label written to the ledger and the audit log.
    pub fn label(&self) -> String {
        match self {
            Principal::Account(a) => a.username.clone(),
            Principal::Subject(s) => s.username.clone(),
            Principal::Token(t) => format!("token:{}", t.token.name),
        }
    }

    /// The person's stable subject (`users.identity_subject`); `None` for tokens.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Principal::Account(a) => Some(&a.uid),
            Principal::Subject(s) => Some(&s.subject),
            Principal::Token(_) => None,
        }
    }
}

/// The live API token with this value and its organization, in one read (the hot path
/// of every till request); only the token's hash is stored, so it is hashed here.
/// `None` for an unknown or revoked token.
pub async fn api_token(store: &dyn Store, token: &str) -> Result<Option<OrgToken>, Error> {
    let found = store
        .api_token_with_org(&crate::secret::hash_token(token))
        .await?;
    Ok(found.map(|(token, org)| OrgToken { token, org }))
}

/// A principal checked on this request, with the groups it holds now.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Who.
    pub principal: Principal,
    /// Identity-provider group names (empty for tokens).
    pub groups: Vec<String>,
    /// Whether the principal is an operator of the installation.
    pub operator: bool,
}

/// Checks that the principal may still act, on every request, and reads its groups:
/// a built-in account must be active and its groups are read from the directory now; a
/// token must not be revoked; a provider subject (a session's or a bearer JWT's) must
/// still be an active user at the provider, with the groups it is in now (see
/// [`provider_groups`]).
pub async fn verify(deps: Deps<'_>, principal: Principal) -> Result<Verified, Error> {
    let groups = match &principal {
        Principal::Account(a) => {
            if !a.is_active {
                return Err(Error::Forbidden("this account is deactivated".into()));
            }
            deps.directory.user_groups(a.pk).await?
        }
        Principal::Subject(s) => provider_groups(deps, s).await?,
        Principal::Token(t) => {
            if t.token.revoked_at.is_some() {
                return Err(Error::Forbidden("this API token is revoked".into()));
            }
            Vec::new()
        }
    };
    let operator = groups.iter().any(|g| g == deps.operators_group);
    Ok(Verified {
        principal,
        groups,
        operator,
    })
}

/// The groups a provider subject is in now, as the directory says (not the snapshot
/// its session or token carries). In authentik mode the directory is a
/// [`crate::directory::cache::CachedDirectory`]: the answer is at most its bound old,
/// and loyalty's own changes to the person are seen at once. A user that is gone,
/// renamed or deactivated at the provider is refused ([`Error::Forbidden`]); a provider
/// that cannot be reached once the kept answer is older than the bound is
/// [`Error::Unavailable`] (503), never a pass on stale groups.
pub async fn provider_groups(
    deps: Deps<'_>,
    subject: &ExternalSubject,
) -> Result<Vec<String>, Error> {
    let standing = deps
        .directory
        .standing(&subject.username, &subject.subject)
        .await
        .map_err(|e| {
            tracing::warn!(user = %subject.username, error = %e, "cannot re-check a person at the identity provider");
            Error::Unavailable(
                "the identity provider cannot be reached to check your access; try again shortly"
                    .into(),
            )
        })?;
    match standing {
        Some(s) if s.user.is_active => Ok(s.groups),
        Some(_) => Err(Error::Forbidden(
            "this account is deactivated at the identity provider".into(),
        )),
        None => Err(Error::Forbidden(
            "this account is no longer at the identity provider; sign in again".into(),
        )),
    }
}

/// The active organization with this slug. A suspended one is refused
/// ([`Error::OrgSuspended`]); an unknown one, or one whose onboarding has not finished,
/// is [`Error::NotFound`].
pub async fn active_org(store: &dyn Store, raw: &str) -> Result<Organization, Error> {
    let not_found = || Error::NotFound(ErrorCode::OrgNotFound, format!("organization {raw:?}"));
    let slug = OrgSlug::parse(raw).map_err(|_| not_found())?;
    require_active(store.organization_by_slug(&slug).await?).ok_or_else(not_found)?
}

/// `Some(Ok)` for an active organization, `Some(Err)` for a suspended one, `None` for a
/// missing or unfinished one.
fn require_active(org: Option<Organization>) -> Option<Result<Organization, Error>> {
    match org {
        Some(org) if org.status == OrgStatus::Active => Some(Ok(org)),
        Some(org) if org.status == OrgStatus::Suspended => Some(Err(Error::OrgSuspended(org.slug))),
        _ => None,
    }
}

/// The refusal of any change during an operator's read-only support visit
/// (`operator.read_only`).
pub fn refuse_support_write() -> Error {
    Error::Conflict(
        ErrorCode::OperatorReadOnly,
        "operators open a shop's admin panel read-only for support; changes are made by the shop's admins".into(),
    )
}

/// What [`enter`] decided: the organization, the roles held there and the actor.
#[derive(Debug, Clone)]
pub struct Access {
    /// The organization (active).
    pub org: Organization,
    /// Every role the principal holds here.
    pub roles: Vec<Role>,
    /// The most powerful of them (`None` for an operator without a role here).
    pub role: Option<Role>,
    /// Whether the principal is an operator of the installation.
    pub operator: bool,
    /// For the ledger and the audit log, acting in [`Access::role`].
    pub actor: Actor,
    /// The person's member row here, when they hold a role.
    pub member_id: Option<Uuid>,
    /// The person's identity subject (`None` for tokens).
    pub subject: Option<String>,
}

fn no_role() -> Error {
    Error::Forbidden("you have no role in this organization that allows this".into())
}

/// Checks the principal (see [`verify`]) and enters `org` with it (see
/// [`enter_verified`]).
pub async fn enter(
    deps: Deps<'_>,
    org: Organization,
    principal: Principal,
    request_id: Option<String>,
) -> Result<Access, Error> {
    let verified = verify(deps, principal).await?;
    enter_verified(deps, org, &verified, request_id).await
}

/// The one role rule. A token acts in its own organization only, with its role. A
/// person's roles come from the groups whose prefix is the organization's group prefix
/// (the most powerful one acts); operators may enter without a role; anyone else is
/// refused. A suspended organization is refused to everyone.
pub async fn enter_verified(
    deps: Deps<'_>,
    org: Organization,
    verified: &Verified,
    request_id: Option<String>,
) -> Result<Access, Error> {
    let org = require_active(Some(org))
        .ok_or_else(|| Error::NotFound(ErrorCode::OrgNotFound, "organization".into()))??;
    let roles: Vec<Role> = match &verified.principal {
        Principal::Token(t) => {
            if t.token.organization_id != org.id || t.org.id != org.id {
                return Err(no_role());
            }
            vec![t.token.role]
        }
        _ => resolve_memberships(&verified.groups)
            .into_iter()
            .filter(|m| m.prefix == org.group_prefix)
            .map(|m| m.role)
            .collect(),
    };
    let role = roles.iter().copied().min();
    if role.is_none() && !verified.operator {
        return Err(no_role());
    }
    let subject = verified.principal.subject().map(str::to_owned);
    let member_id = match (&subject, role) {
        (Some(subject), Some(_)) => deps
            .store
            .member_by_subject(org.id, subject)
            .await?
            .map(|m| m.id),
        _ => None,
    };
    let actor = Actor {
        member_id,
        label: verified.principal.label(),
        role: role.map_or("operator", Role::as_str).into(),
        request_id,
    };
    Ok(Access {
        org,
        roles,
        role,
        operator: verified.operator,
        actor,
        member_id,
        subject,
    })
}

impl Access {
    /// Whether this is an operator without a role here, who sees the shop's admin panel
    /// read-only for support (see [`support_ctx`](Access::support_ctx)).
    pub fn is_support(&self) -> bool {
        self.role.is_none() && self.operator
    }

    /// For an operator's support visit: a context that reads what an admin reads, acting
    /// as `operator` in the audit log. Only reads may be made with it: a support visit's
    /// writes are refused before any use case runs ([`refuse_support_write`]).
    pub fn support_ctx<'a>(&'a self, deps: Deps<'a>) -> Result<Ctx<'a>, Error> {
        if !self.is_support() {
            return Err(no_role());
        }
        let mut ctx = self.ctx_as(deps, Role::Admin);
        ctx.actor.role = "operator".into();
        Ok(ctx)
    }

    /// A use-case context acting in the most powerful role held here; refused for an
    /// operator without a role.
    pub fn ctx<'a>(&'a self, deps: Deps<'a>) -> Result<Ctx<'a>, Error> {
        let role = self.role.ok_or_else(no_role)?;
        Ok(self.ctx_as(deps, role))
    }

    /// A use-case context acting in `role` (one the caller checked is held here).
    pub fn ctx_as<'a>(&'a self, deps: Deps<'a>, role: Role) -> Ctx<'a> {
        Ctx {
            store: deps.store,
            clock: deps.clock,
            org: &self.org,
            actor: Actor {
                role: role.as_str().into(),
                ..self.actor.clone()
            },
            role,
        }
    }

    /// The most powerful of `allowed` held here.
    pub fn holds(&self, allowed: &[Role]) -> Option<Role> {
        allowed.iter().copied().find(|r| self.roles.contains(r))
    }
}
