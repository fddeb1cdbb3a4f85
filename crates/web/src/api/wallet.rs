//! Apple's PassKit web service, under the address every pass of a shop names
//! (`{public_url}/wallet/apple/{slug}`): devices register and unregister for a pass's
//! updates, ask which passes changed, fetch the latest pass, and send their logs. Not
//! part of `/api/v1` (Apple fixes the paths and answers); the rules are
//! `loyalty_core::service::wallet::updates`. Off (404) while Apple Wallet is not configured.

use crate::AppState;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use loyalty_core::domain::{OrgSlug, Organization};
use loyalty_core::service::wallet::updates;
use loyalty_core::{Error, ErrorCode};
use loyalty_identity::wallet::apple::AppleWallet;
use serde::Deserialize;
use std::sync::Arc;

/// The web service's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/wallet/apple/{slug}/v1/devices/{device}/registrations/{pass_type}/{serial}",
            post(register).delete(unregister),
        )
        .route(
            "/wallet/apple/{slug}/v1/devices/{device}/registrations/{pass_type}",
            get(updated_serials),
        )
        .route(
            "/wallet/apple/{slug}/v1/passes/{pass_type}/{serial}",
            get(latest_pass),
        )
        .route("/wallet/apple/{slug}/v1/log", post(log))
}

/// The configured wallet and the organization the path names (suspended ones too: their
/// passes are served void).
async fn wallet_and_org(
    state: &AppState,
    slug: &str,
) -> Result<(Arc<AppleWallet>, Organization), ApiError> {
    let wallet = state.config.apple_wallet.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::RouteNotFound,
            "Apple Wallet is not configured on this service",
        )
    })?;
    let not_found = || ApiError::new(ErrorCode::OrgNotFound, "no such organization");
    let slug = OrgSlug::parse(slug).map_err(|_| not_found())?;
    let org = state
        .store
        .organization_by_slug(&slug)
        .await
        .map_err(|e| ApiError::from(Error::from(e)))?
        .ok_or_else(not_found)?;
    Ok((wallet, org))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

#[derive(Deserialize)]
struct Registration {
    #[serde(rename = "pushToken")]
    push_token: String,
}

/// `POST .../devices/{device}/registrations/{pass_type}/{serial}`: 201 registered, 200
/// already registered, 401 without this pass's token.
async fn register(
    State(state): State<AppState>,
    ApiPath((slug, device, pass_type, serial)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Registration>,
) -> Result<StatusCode, ApiError> {
    let (wallet, org) = wallet_and_org(&state, &slug).await?;
    let store = state.store.as_ref();
    let pass = updates::authorize(
        store,
        &org,
        &pass_type,
        &wallet.issuer.pass_type_id,
        &serial,
        authorization(&headers),
    )
    .await?;
    let created = updates::register(
        store,
        &org,
        &pass,
        &device,
        &body.push_token,
        state.clock.now(),
    )
    .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// `DELETE .../devices/{device}/registrations/{pass_type}/{serial}`: 200, 401 without
/// this pass's token.
async fn unregister(
    State(state): State<AppState>,
    ApiPath((slug, device, pass_type, serial)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (wallet, org) = wallet_and_org(&state, &slug).await?;
    let store = state.store.as_ref();
    let pass = updates::authorize(
        store,
        &org,
        &pass_type,
        &wallet.issuer.pass_type_id,
        &serial,
        authorization(&headers),
    )
    .await?;
    updates::unregister(store, &org, &pass, &device).await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
struct Since {
    #[serde(rename = "passesUpdatedSince")]
    passes_updated_since: Option<String>,
}

/// `GET .../devices/{device}/registrations/{pass_type}?passesUpdatedSince=tag`: 200 with
/// `serialNumbers` and `lastUpdated`, 204 when nothing changed.
async fn updated_serials(
    State(state): State<AppState>,
    ApiPath((slug, device, pass_type)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<Since>,
) -> Result<Response, ApiError> {
    let (wallet, org) = wallet_and_org(&state, &slug).await?;
    let found = updates::updated_serials(
        state.store.as_ref(),
        &org,
        &pass_type,
        &wallet.issuer.pass_type_id,
        &device,
        q.passes_updated_since.as_deref(),
    )
    .await?;
    Ok(match found {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(u) => axum::Json(serde_json::json!({
            "serialNumbers": u.serial_numbers,
            "lastUpdated": u.last_updated,
        }))
        .into_response(),
    })
}

/// `GET .../passes/{pass_type}/{serial}`: the latest pass with `Last-Modified`, 304 when
/// not modified since `If-Modified-Since`, 401 without this pass's token.
async fn latest_pass(
    State(state): State<AppState>,
    ApiPath((slug, pass_type, serial)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (wallet, org) = wallet_and_org(&state, &slug).await?;
    let pass = updates::authorize(
        state.store.as_ref(),
        &org,
        &pass_type,
        &wallet.issuer.pass_type_id,
        &serial,
        authorization(&headers),
    )
    .await?;
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(time::OffsetDateTime::from);
    let last_modified = httpdate::fmt_http_date(updates::last_modified(&pass.pass).into());
    if updates::unchanged_since(&pass.pass, since) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::LAST_MODIFIED, last_modified)],
        )
            .into_response());
    }
    let look = loyalty_core::service::wallet::look::shop_look(state.store.as_ref(), &org).await?;
    match wallet.pass(&org, &look, &pass.customer, &pass.token, pass.pass.voided) {
        Ok(bytes) => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.apple.pkpass".to_owned(),
                ),
                (header::LAST_MODIFIED, last_modified),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes,
        )
            .into_response()),
        Err(e) => {
            tracing::error!(error = %e, "signing an Apple Wallet pass");
            Err(ApiError::internal())
        }
    }
}

#[derive(Deserialize)]
struct Logs {
    #[serde(default)]
    logs: Vec<String>,
}

/// `POST .../log`: devices' messages about this service, logged (at most 20 of 500
/// characters each, so a device cannot fill the log).
async fn log(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<Logs>,
) -> Result<StatusCode, ApiError> {
    let (_, org) = wallet_and_org(&state, &slug).await?;
    for line in body.logs.iter().take(20) {
        let line: String = line.chars().take(500).collect();
        tracing::warn!(org = %org.slug, message = %line, "Apple Wallet device log");
    }
    Ok(StatusCode::OK)
}
