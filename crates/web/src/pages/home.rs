//! The start page: the organizations a person has a role in, each linking to the page of
//! that role.

use super::guard::Person;
use super::layout::Chrome;
use super::render;
use crate::AppState;
use crate::PinnedOrg;
use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::domain::{OrgStatus, Role, resolve_memberships};
use loyalty_core::service::orgs;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

struct OrgRole {
    name: String,
    href: String,
    role: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    c: Chrome,
    name: &'a str,
    orgs: Vec<OrgRole>,
}

/// Where a role lands in an organization.
pub(crate) fn landing(slug: &str, role: Role) -> String {
    match role {
        Role::Admin => format!("/o/{slug}/admin"),
        Role::Cashier => format!("/o/{slug}/till"),
        Role::Customer => format!("/o/{slug}/me"),
    }
}

async fn home(
    State(state): State<AppState>,
    pinned: Option<Extension<PinnedOrg>>,
    person: Person,
) -> Response {
    let mut memberships = resolve_memberships(&person.groups);
    if let Some(Extension(PinnedOrg(slug))) = &pinned {
        // A custom domain serves one organization: straight to its page for the
        // person's highest role there, or to its join page for someone without one.
        let org = orgs::of_memberships(state.store.as_ref(), &memberships)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading organizations");
                Vec::new()
            })
            .into_iter()
            .find(|o| o.slug.as_str() == slug);
        memberships.retain(|m| org.as_ref().is_some_and(|o| o.group_prefix == m.prefix));
        let best = [Role::Admin, Role::Cashier, Role::Customer]
            .into_iter()
            .find(|r| memberships.iter().any(|m| m.role == *r));
        return match best {
            Some(role) => Redirect::to(&landing(slug, role)).into_response(),
            None => Redirect::to(&format!("/o/{slug}/join")).into_response(),
        };
    }
    let orgs = orgs::of_memberships(state.store.as_ref(), &memberships)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading organizations");
            Vec::new()
        });
    let rows: Vec<OrgRole> = memberships
        .iter()
        .filter_map(|m| {
            let org = orgs
                .iter()
                .find(|o| o.group_prefix == m.prefix && o.status != OrgStatus::Onboarding)?;
            Some(OrgRole {
                name: org.name.clone(),
                href: landing(org.slug.as_str(), m.role),
                role: match m.role {
                    Role::Admin => "role_admin",
                    Role::Cashier => "role_cashier",
                    Role::Customer => "role_customer",
                },
                active: org.status == OrgStatus::Active,
            })
        })
        .collect();
    render(
        StatusCode::OK,
        &Home {
            c: person.chrome("home"),
            name: person.signed_in.session.principal.name(),
            orgs: rows,
        },
    )
}
