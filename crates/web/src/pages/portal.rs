//! The customer portal (`/o/{slug}/me`): balance, member card with its number and a QR
//! code, the rewards they can afford, and their history.

use super::admin::entry_kind as admin_entry_kind;
use super::guard::OrgPage;
use super::layout::{Chrome, error_page, problem};
use super::qr;
use super::render;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Customer, CustomerKey};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/o/{slug}/me", get(me))
}

struct Row {
    when: String,
    kind: &'static str,
    points: i64,
}

struct Affordable {
    name: String,
    cost: i64,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    c: Chrome,
    org_name: String,
    customer: Customer,
    qr: Option<String>,
    rows: Vec<Row>,
    affordable: Vec<Affordable>,
    next_reward: Option<(String, i64)>,
    since: String,
}

async fn me(State(state): State<AppState>, page: OrgPage) -> Response {
    let c = page.chrome("me", "");
    if let Err(r) = page.require(&[Role::Customer], &c) {
        return r;
    }
    let subject = page.person.signed_in.session.principal.subject().to_owned();
    let customer = match state
        .store
        .find_customer(page.org.id, &CustomerKey::Subject(subject))
        .await
    {
        Ok(Some(x)) => x,
        Ok(None) => {
            return problem(
                &c,
                StatusCode::NOT_FOUND,
                "not_enrolled_heading",
                c.t("not_enrolled_text"),
                &format!("{}/join", page.base()),
                "join_now",
            );
        }
        Err(e) => return error_page(&c, &e.into(), "/"),
    };
    let tz = &page.org.timezone;
    let mut ledger = match state
        .store
        .ledger(page.org.id, Some(customer.id), None, None, None, 200)
        .await
    {
        Ok(l) => l,
        Err(e) => return error_page(&c, &e.into(), "/"),
    };
    ledger.reverse();
    let rows = ledger
        .iter()
        .take(50)
        .map(|e| Row {
            when: c.lang.date(e.created_at, tz),
            kind: admin_entry_kind(e),
            points: e.points,
        })
        .collect();
    let mut rewards = state
        .store
        .list_rewards(page.org.id)
        .await
        .unwrap_or_default();
    rewards.retain(|r| r.active && r.stock != Some(0));
    rewards.sort_by_key(|r| r.cost_points);
    let next_reward = rewards
        .iter()
        .find(|r| r.cost_points > customer.balance)
        .map(|r| (r.name.clone(), r.cost_points - customer.balance));
    let affordable = rewards
        .into_iter()
        .filter(|r| r.cost_points <= customer.balance)
        .map(|r| Affordable {
            name: r.name,
            cost: r.cost_points,
        })
        .collect();
    render(
        StatusCode::OK,
        &MePage {
            qr: qr::svg(&customer.card_number),
            since: c.lang.date(customer.created_at, tz),
            org_name: page.org.name.clone(),
            c,
            customer,
            rows,
            affordable,
            next_reward,
        },
    )
}
