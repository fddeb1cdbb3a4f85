//! The start page: who is signed in and the organizations they have a role in.

use super::render;
use crate::AppState;
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::domain::{OrgStatus, resolve_memberships};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

struct OrgRole {
    name: String,
    slug: String,
    role: &'static str,
    status: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    name: &'a str,
    csrf: &'a str,
    operator: bool,
    orgs: Vec<OrgRole>,
}

async fn home(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    let account = &signed_in.session.account;
    if account.must_change_password {
        return Redirect::to("/account/password").into_response();
    }
    let groups = match state.directory.user_groups(account.pk).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "reading groups");
            Vec::new()
        }
    };
    let memberships = resolve_memberships(&groups);
    let prefixes: Vec<String> = memberships.iter().map(|m| m.prefix.clone()).collect();
    let orgs = state
        .store
        .organizations_by_group_prefix(&prefixes)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading organizations");
            Vec::new()
        });
    let rows = memberships
        .iter()
        .filter_map(|m| {
            let org = orgs
                .iter()
                .find(|o| o.group_prefix == m.prefix && o.status != OrgStatus::Onboarding)?;
            Some(OrgRole {
                name: org.name.clone(),
                slug: org.slug.clone(),
                role: m.role.as_str(),
                status: org.status.as_str(),
                active: org.status == OrgStatus::Active,
            })
        })
        .collect();
    let operator = groups.iter().any(|g| *g == state.config.operators_group);
    render(
        StatusCode::OK,
        &Home {
            name: &account.name,
            csrf: &signed_in.session.csrf_token,
            operator,
            orgs: rows,
        },
    )
}
