//! Who may see a page. [`Person`] is a signed-in person checked by
//! `loyalty_core::access::verify` (with their groups); [`OrgPage`] adds the organization
//! named in the URL (`/o/{slug}/...`) entered through `loyalty_core::access`, which
//! decides the roles. Rejections are pages: sign-in for anonymous people, a page that
//! says what is wrong for everyone else.

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{Chrome, OrgNav, browser_lang, cookie_lang, encode, problem};
use crate::AppState;
use crate::session::SignedIn;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_core::access::{self, Access, Verified};
use loyalty_core::domain::{Organization, Role};
use loyalty_core::service::audit;
use loyalty_core::service::points::Ctx;
use std::collections::HashMap;

/// A signed-in person, checked on this request, with their identity-provider groups
/// (`groups` and `operator` read through to [`Verified`]).
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub signed_in: SignedIn,
    pub verified: Verified,
    /// The person's own choice (the language cookie); it wins everywhere.
    pub lang: Option<Lang>,
    /// The best of the browser's languages we speak, for pages outside an organization
    /// when the person made no choice.
    pub browser_lang: Option<Lang>,
    pub path: String,
    /// The request id, for the audit rows of page actions.
    pub request_id: Option<String>,
}

impl std::ops::Deref for Person {
    type Target = Verified;

    fn deref(&self) -> &Verified {
        &self.verified
    }
}

impl Person {
    /// The page frame for this person outside any organization.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            lang: self.lang.or(self.browser_lang).unwrap_or_default(),
            csrf: self.signed_in.session.csrf_token.clone(),
            user: Some(self.signed_in.session.principal.name().to_owned()),
            org: None,
            operator: self.operator,
            here: self.path.clone(),
            section,
            tab: "",
            read_only: false,
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
        let browser_lang = browser_lang(&parts.headers);
        let Ok(signed_in) = SignedIn::from_request_parts(parts, state).await else {
            let next = if parts.method == axum::http::Method::GET && path != "/" {
                format!("/login?next={}", encode(&path))
            } else {
                "/login".into()
            };
            return Err(Redirect::to(&next).into_response());
        };
        if signed_in.session.principal.must_change_password() && path != "/account/password" {
            return Err(Redirect::to("/account/password").into_response());
        }
        let verified = match access::verify(state.access(), signed_in.principal()).await {
            Ok(v) => v,
            Err(loyalty_core::Error::Forbidden(_)) => {
                return Err(Redirect::to("/login").into_response());
            }
            Err(e) => {
                tracing::error!(error = %e, "reading groups");
                return Err(unavailable(
                    lang.or(browser_lang).unwrap_or_default(),
                    &path,
                ));
            }
        };
        // The form extractors read the session from here instead of a second query.
        parts.extensions.insert(signed_in.clone());
        Ok(Person {
            signed_in,
            verified,
            lang,
            browser_lang,
            path,
            request_id: crate::request_id(&parts.headers),
        })
    }
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
    let Some(slug) = params.get("slug") else {
        return Err(not_found());
    };
    match access::active_org(state.store.as_ref(), slug).await {
        Ok(org) => Ok(org),
        Err(loyalty_core::Error::OrgSuspended(_)) => Err(problem(
            &c,
            StatusCode::FORBIDDEN,
            "org_suspended_heading",
            c.t("org_suspended_text"),
            "/",
            "back_to_start",
        )),
        Err(loyalty_core::Error::NotFound(..)) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "reading organization");
            Err(unavailable(lang, &path))
        }
    }
}

/// A signed-in person on a page of one organization, entered through
/// `loyalty_core::access` (`org`, `roles`, `member_id` read through to [`Access`]).
/// A person with no role there is refused unless they are an operator, whose pages
/// then check the role they need with [`OrgPage::require`].
#[derive(Debug, Clone)]
pub(crate) struct OrgPage {
    pub person: Person,
    pub access: Access,
    pub lang: Lang,
}

impl std::ops::Deref for OrgPage {
    type Target = Access;

    fn deref(&self) -> &Access {
        &self.access
    }
}

impl FromRequestParts<AppState> for OrgPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let person = Person::from_request_parts(parts, state).await?;
        let pre_lang = person.lang.unwrap_or_default();
        let org: Organization = org_from_path(parts, state, pre_lang).await?;
        let lang = person
            .lang
            .or_else(|| Lang::parse(org.language.as_str()))
            .unwrap_or_default();
        let refused_chrome = |org: &Organization| {
            let mut c = person.chrome("");
            c.lang = lang;
            c.org = Some(OrgNav {
                slug: org.slug.to_string(),
                name: org.name.clone(),
                admin: false,
                till: false,
                me: false,
            });
            c
        };
        let nav = refused_chrome(&org);
        match access::enter_verified(
            state.access(),
            org,
            &person.verified,
            person.request_id.clone(),
        )
        .await
        {
            Ok(access) if access.is_support() => {
                support_visit(parts, state, person, access, lang).await
            }
            Ok(access) => Ok(OrgPage {
                person,
                access,
                lang,
            }),
            Err(loyalty_core::Error::Forbidden(_)) => {
                Err(PageError::forbidden(&nav).into_response())
            }
            Err(e) => {
                tracing::error!(error = %e, "entering an organization");
                Err(unavailable(lang, &person.path))
            }
        }
    }
}

/// An operator without a role in the shop: a read-only support visit. Anything but a
/// page view is refused (`operator.read_only`); every view of the admin panel is written
/// to the shop's audit log before the page is shown.
async fn support_visit(
    parts: &Parts,
    state: &AppState,
    person: Person,
    access: Access,
    lang: Lang,
) -> Result<OrgPage, Response> {
    let page = OrgPage {
        person,
        access,
        lang,
    };
    let c = page.chrome("admin", "");
    let back = format!("{}/admin", page.base());
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return Err(PageError::failed(&c, &access::refuse_support_write(), &back).into_response());
    }
    if page.person.path.starts_with(&back) {
        audit::record_support_visit(
            state.store.as_ref(),
            &page.access,
            &page.person.path,
            state.clock.now(),
        )
        .await
        .map_err(|e| PageError::failed(&c, &e, "/operator").into_response())?;
    }
    Ok(page)
}

impl OrgPage {
    /// The page frame, with the organization's navigation.
    pub fn chrome(&self, section: &'static str, tab: &'static str) -> Chrome {
        let mut c = self.person.chrome(section);
        c.lang = self.lang;
        c.tab = tab;
        c.read_only = self.is_support();
        c.org = Some(OrgNav {
            slug: self.org.slug.to_string(),
            name: self.org.name.clone(),
            admin: self.roles.contains(&Role::Admin) || self.is_support(),
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

    /// A use-case context acting in `role`, with the request id for the audit log.
    pub fn ctx<'a>(&'a self, state: &'a AppState, role: Role) -> Ctx<'a> {
        self.access.ctx_as(state.access(), role)
    }

    /// The base of this organization's page URLs (`/o/{slug}`).
    pub fn base(&self) -> String {
        format!("/o/{}", self.org.slug)
    }
}
