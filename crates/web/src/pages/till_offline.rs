//! The till without a connection: the web app's manifest and service worker (served
//! under the till's own path, so they reach no other page), the program as the device
//! keeps it to estimate points (with the recorder token of the person signed in on
//! that till), and the endpoint the device sends its queued purchases to when the
//! connection returns. The script is `/static/till.js`; without it the till
//! works online exactly as its forms do. `docs/till.md` says what works offline.

use super::form::CsrfJson;
use crate::AppState;
use crate::api::auth::OrgMember;
use crate::api::extract::ApiQuery;
use crate::api::org_context::ActiveOrg;
use crate::error::ApiError;
use crate::session::{NotSignedIn, SignedIn};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use loyalty_core::ErrorCode;
use loyalty_core::domain::OrgSlug;
use loyalty_core::service::till::{self, OfflinePurchase, OfflineRedemption, TillProgram};
use serde::{Deserialize, Serialize};

/// The service worker, served at `/o/{slug}/till/sw.js` for the scope `/o/{slug}/till`.
const WORKER: &str = include_str!("../../static/till-sw.js");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/till/sw.js", get(worker))
        .route("/o/{slug}/till/app.webmanifest", get(manifest))
        .route("/o/{slug}/till/offline", get(program))
        .route("/o/{slug}/till/offline/purchases", post(send))
        .route("/o/{slug}/till/offline/redemptions", post(send_redemption))
}

/// The slug of the path, or a 404 answer: the worker and manifest name the till's path.
fn slug(raw: &str) -> Result<OrgSlug, Response> {
    OrgSlug::parse(raw).map_err(|_| StatusCode::NOT_FOUND.into_response())
}

/// The service worker. Its scope is the till's own path (`/o/{slug}/till`, one step
/// above the script's folder, hence `Service-Worker-Allowed`); it is never cached by the
/// browser's HTTP cache, so an update reaches the tills at their next visit.
async fn worker(Path(raw): Path<String>) -> Response {
    let slug = match slug(&raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let scope =
        HeaderValue::from_str(&format!("/o/{slug}/till")).unwrap_or(HeaderValue::from_static("/"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                scope,
            ),
        ],
        WORKER,
    )
        .into_response()
}

/// The web app manifest of one organization's till.
async fn manifest(Path(raw): Path<String>) -> Response {
    let slug = match slug(&raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let till = format!("/o/{slug}/till");
    let body = serde_json::json!({
        "name": format!("Till · {slug}"),
        "short_name": "Till",
        "id": till,
        "start_url": till,
        "scope": till,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f5fae",
        "icons": [
            {"src": "/static/till-icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {"src": "/static/till-icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/till-icon-512.png", "sizes": "512x512", "type": "image/png"}
        ]
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/manifest+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Which till reads the program.
#[derive(Deserialize)]
struct Reader {
    /// The till's id (a random id the device made once and keeps).
    device: Option<uuid::Uuid>,
}

/// What the till reads while it is online: the program to estimate points offline and,
/// for a till that names itself (`?device=`) with a person signed in, the recorder
/// token it keeps with each purchase it records offline.
#[derive(Serialize)]
struct ForTill {
    #[serde(flatten)]
    program: TillProgram,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorder: Option<String>,
}

/// The program as the till keeps it to estimate points offline (staff; session or
/// token), and the recorder token of the person signed in on the till; never cached
/// on the way.
async fn program(
    State(state): State<AppState>,
    member: OrgMember,
    ApiQuery(reader): ApiQuery<Reader>,
) -> Result<Response, ApiError> {
    let ctx = member.ctx(&state)?;
    let program = till::program(&ctx)?;
    let recorder = match (reader.device, member.subject.as_deref()) {
        (Some(device), Some(subject)) => {
            Some(till::recorder_token(&ctx, Some(subject), device).await?)
        }
        _ => None,
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(ForTill { program, recorder }),
    )
        .into_response())
}

/// One purchase the till recorded offline.
#[derive(Deserialize)]
struct Sent {
    key: String,
    card: String,
    amount: String,
    recorded_at: String,
    /// The till: a random id the device made once and keeps.
    device: uuid::Uuid,
    /// The recorder token the till held when it recorded the purchase.
    recorder: String,
}

/// The server's answer for it, which replaces the estimate.
#[derive(Serialize)]
struct Recorded {
    key: String,
    card: String,
    points: i64,
    balance: i64,
    /// True when this purchase had already been recorded (a second send).
    replayed: bool,
}

/// Records one queued purchase with the key the device made (the page's script only:
/// the session, our origin and the session's anti-forgery token), as the person its
/// recorder token names. A person signed in who may no longer act here (a deactivated
/// cashier) is refused, and the refusal is counted on the admin's list of tills.
async fn send(
    State(state): State<AppState>,
    org: Result<ActiveOrg, ApiError>,
    signed_in: Result<SignedIn, NotSignedIn>,
    member: Result<OrgMember, ApiError>,
    CsrfJson(sent): CsrfJson<Sent>,
) -> Result<Response, ApiError> {
    let member = sender(&state, member, org, signed_in, sent.device).await?;
    let ctx = member.ctx(&state)?;
    let purchase = OfflinePurchase {
        card: sent.card,
        amount: sent.amount,
        key: sent.key,
        recorded_at: sent.recorded_at,
        device: sent.device,
        recorder: sent.recorder,
    };
    let (customer, award) = till::record_offline(&ctx, &purchase).await?;
    let status = if award.outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Recorded {
            key: purchase.key,
            card: customer.card_number,
            points: award.outcome.entry.points,
            balance: award.outcome.balance,
            replayed: award.outcome.replayed,
        }),
    )
        .into_response())
}

/// The person signed in who sends a queued item: staff of this organization. One who may
/// no longer act here (a deactivated cashier) is refused, and the refusal is counted on
/// the admin's list of tills.
async fn sender(
    state: &AppState,
    member: Result<OrgMember, ApiError>,
    org: Result<ActiveOrg, ApiError>,
    signed_in: Result<SignedIn, NotSignedIn>,
    device: uuid::Uuid,
) -> Result<OrgMember, ApiError> {
    match (member, org, signed_in) {
        (Ok(member), _, _) => Ok(member),
        (Err(e), Ok(ActiveOrg(org)), Ok(person)) if e.code == ErrorCode::AuthForbidden => {
            let principal = person.principal();
            if let Some(subject) = principal.subject() {
                till::refused_person(
                    state.store.as_ref(),
                    state.clock.as_ref(),
                    &org,
                    subject,
                    &principal.label(),
                    device,
                )
                .await?;
            }
            Err(e)
        }
        (Err(e), _, _) => Err(e),
    }
}

/// One redemption the till recorded offline.
#[derive(Deserialize)]
struct SentRedemption {
    key: String,
    card: String,
    points: i64,
    recorded_at: String,
    device: uuid::Uuid,
    recorder: String,
}

/// The server's answer for it.
#[derive(Serialize)]
struct Redeemed {
    key: String,
    card: String,
    points: i64,
    balance: i64,
    replayed: bool,
}

/// Redeems points the till took offline, as the person its recorder token names, with
/// the key the device made, through the guarded redemption (never below zero).
async fn send_redemption(
    State(state): State<AppState>,
    org: Result<ActiveOrg, ApiError>,
    signed_in: Result<SignedIn, NotSignedIn>,
    member: Result<OrgMember, ApiError>,
    CsrfJson(sent): CsrfJson<SentRedemption>,
) -> Result<Response, ApiError> {
    let member = sender(&state, member, org, signed_in, sent.device).await?;
    let ctx = member.ctx(&state)?;
    let redemption = OfflineRedemption {
        card: sent.card,
        points: sent.points,
        key: sent.key,
        recorded_at: sent.recorded_at,
        device: sent.device,
        recorder: sent.recorder,
    };
    let (customer, outcome) = till::redeem_offline(&ctx, &redemption).await?;
    let status = if outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Redeemed {
            key: redemption.key,
            card: customer.card_number,
            points: -outcome.entry.points,
            balance: outcome.balance,
            replayed: outcome.replayed,
        }),
    )
        .into_response())
}
