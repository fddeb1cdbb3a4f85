//! Who may see a page. [`Person`] is a signed-in person with their groups; [`OrgPage`]
//! adds the organization named in the URL (`/o/{slug}/...`) and the roles the person's
//! groups give there. Rejections are pages: sign-in for anonymous people, a page that
//! says what is wrong for everyone else.

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{Chrome, OrgNav, cookie_lang, problem};
use crate::AppState;
use crate::session::SignedIn;
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgSlug, OrgStatus, Organization, Role, resolve_memberships};
use loyalty_core::service::points::Ctx;
use std::collections::HashMap;
use uuid::Uuid;

/// A signed-in person and their identity-provider groups.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub signed_in: SignedIn,
    pub groups: Vec<String>,
    pub operator: bool,
    pub lang: Option<Lang>,
    pub path: String,
}

impl Person {
    /// The page frame for this person outside any organization.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            lang: self.lang.unwrap_or_default(),
            csrf: self.signed_in.session.csrf_token.clone(),
            user: Some(self.signed_in.session.account.name.clone()),
            org: None,
            operator: self.operator,
            here: self.path.clone(),
            section,
            tab: "",
        }
    }
}

fn unavailable(lang: Lang, path: &str) -> Response {
    let c = Chrome::anonymous(lang, path);
    problem(
        &c,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable_heading",
        c.t("unavailable_text"),
        path,
        "try_again",
    )
}

impl FromRequestParts<AppState> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let path = parts.uri.path().to_owned();
        let lang = cookie_lang(&parts.headers);
        let Ok(signed_in) = SignedIn::from_request_parts(parts, state).await else {
            let next = if parts.method == axum::http::Method::GET && path != "/" {
                format!("/login?next={}", encode(&path))
            } else {
                "/login".into()
            };
            return Err(Redirect::to(&next).into_response());
        };
        if signed_in.session.account.must_change_password && path != "/account/password" {
            return Err(Redirect::to("/account/password").into_response());
        }
        let groups = match signed_in.groups(state).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "reading groups");
                return Err(unavailable(lang.unwrap_or_default(), &path));
            }
        };
        let operator = groups.iter().any(|g| *g == state.config.operators_group);
        Ok(Person {
            signed_in,
            groups,
            operator,
            lang,
            path,
        })
    }
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The organization named by the URL, or the page to answer instead.
pub(crate) async fn org_from_path(
    parts: &mut Parts,
    state: &AppState,
    lang: Lang,
) -> Result<Organization, Response> {
    let path = parts.uri.path().to_owned();
    let c = Chrome::anonymous(lang, &path);
    let not_found = || {
        problem(
            &c,
            StatusCode::NOT_FOUND,
            "org_not_found_heading",
            c.t("org_not_found_text"),
            "/",
            "back_to_start",
        )
    };
    let Ok(Path(params)) = Path::<HashMap<String, String>>::from_request_parts(parts, state).await
    else {
        return Err(not_found());
    };
    let Some(slug) = params.get("slug").and_then(|s| OrgSlug::parse(s).ok()) else {
        return Err(not_found());
    };
    match state.store.organization_by_slug(&slug).await {
        Ok(Some(org)) if org.status == OrgStatus::Active => Ok(org),
        Ok(Some(org)) if org.status == OrgStatus::Suspended => Err(problem(
            &c,
            StatusCode::FORBIDDEN,
            "org_suspended_heading",
            c.t("org_suspended_text"),
            "/",
            "back_to_start",
        )),
        Ok(_) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "reading organization");
            Err(unavailable(lang, &path))
        }
    }
}

/// A signed-in person on a page of one organization, with their roles there.
#[derive(Debug, Clone)]
pub(crate) struct OrgPage {
    pub person: Person,
    pub org: Organization,
    pub roles: Vec<Role>,
    pub member_id: Option<Uuid>,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for OrgPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let person = Person::from_request_parts(parts, state).await?;
        let pre_lang = person.lang.unwrap_or_default();
        let org = org_from_path(parts, state, pre_lang).await?;
        let lang = person
            .lang
            .or_else(|| Lang::parse(&org.language))
            .unwrap_or_default();
        let roles: Vec<Role> = resolve_memberships(&person.groups)
            .into_iter()
            .filter(|m| m.prefix == org.group_prefix)
            .map(|m| m.role)
            .collect();
        let member_id = if roles.is_empty() {
            None
        } else {
            match state
                .store
                .member_by_subject(org.id, &person.signed_in.session.account.uid)
                .await
            {
                Ok(m) => m.map(|m| m.id),
                Err(e) => {
                    tracing::error!(error = %e, "reading membership");
                    return Err(unavailable(lang, &person.path));
                }
            }
        };
        Ok(OrgPage {
            person,
            org,
            roles,
            member_id,
            lang,
        })
    }
}

impl OrgPage {
    /// The page frame, with the organization's navigation.
    pub fn chrome(&self, section: &'static str, tab: &'static str) -> Chrome {
        let mut c = self.person.chrome(section);
        c.lang = self.lang;
        c.tab = tab;
        c.org = Some(OrgNav {
            slug: self.org.slug.clone(),
            name: self.org.name.clone(),
            admin: self.roles.contains(&Role::Admin),
            till: self.roles.contains(&Role::Admin) || self.roles.contains(&Role::Cashier),
            me: self.roles.contains(&Role::Customer),
        });
        c
    }

    /// The most powerful of `allowed` that the person holds here, or a 403 page.
    pub fn require(&self, allowed: &[Role], c: &Chrome) -> Result<Role, PageError> {
        allowed
            .iter()
            .copied()
            .find(|r| self.roles.contains(r))
            .ok_or_else(|| PageError::forbidden(c))
    }

    /// A use-case context acting in `role`.
    pub fn ctx<'a>(&'a self, state: &'a AppState, role: Role) -> Ctx<'a> {
        Ctx {
            store: state.store.as_ref(),
            clock: state.clock.as_ref(),
            org: &self.org,
            actor: Actor {
                member_id: self.member_id,
                label: self.person.signed_in.session.account.username.clone(),
                role: role.as_str().into(),
                request_id: None,
            },
            role,
        }
    }

    /// The base of this organization's page URLs (`/o/{slug}`).
    pub fn base(&self) -> String {
        format!("/o/{}", self.org.slug)
    }
}
