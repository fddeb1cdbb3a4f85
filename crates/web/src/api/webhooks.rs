//! Webhooks over the API (admins only): endpoints with their event filter, the secret
//! shown once, rotation, a test event, the delivery log and resend.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use loyalty_core::service::webhooks;
use loyalty_core::webhook::{Delivery, Endpoint};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/webhooks", get(list).post(create))
        .route(
            "/orgs/{slug}/webhooks/{id}",
            axum::routing::put(update).delete(remove),
        )
        .route("/orgs/{slug}/webhooks/{id}/rotate", post(rotate))
        .route("/orgs/{slug}/webhooks/{id}/test", post(test))
        .route("/orgs/{slug}/webhook-deliveries", get(deliveries))
        .route("/orgs/{slug}/webhook-deliveries/{id}/resend", post(resend))
}

/// An endpoint to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    /// Where events are posted: an `https` (or `http`) address.
    #[schema(example = "https://shop.example.com/hooks/loyalty")]
    url: String,
    /// Event types to send (such as `points.earned`); empty or `["*"]` for all.
    #[serde(default)]
    events: Vec<String>,
}

/// A new endpoint with its signing secret.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The signing secret, shown this once (Standard Webhooks `whsec_...`).
    #[schema(example = "whsec_...")]
    secret: String,
}

/// A rotated secret.
#[derive(Serialize, utoipa::ToSchema)]
struct RotatedSecret {
    /// The new signing secret, shown this once; the old one also signs for 24 hours.
    #[schema(example = "whsec_...")]
    secret: String,
}

/// A queued test event.
#[derive(Serialize, utoipa::ToSchema)]
struct QueuedTest {
    /// Its `webhook-id`.
    event_id: String,
}

api_errors!(ListWebhooksErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
});

/// The organization's webhook endpoints
///
/// Admins only. Secrets are never shown again after creation.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The endpoints, oldest first", body = Vec<Endpoint>),
        ListWebhooksErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn list(
    State(state): State<AppState>,
    m: OrgMember,
) -> Result<Json<Vec<Endpoint>>, ApiError> {
    Ok(Json(webhooks::endpoints(&m.ctx(&state)?).await?))
}

api_errors!(CreateWebhookErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidField,
    ValidationFailed = "`url` is not an http(s) address, an event is unknown, or the organization has 10 endpoints; see `fields`",
    WebhookTargetRefused,
});

/// The operator's `webhooks.allow_private`, for the guard against private targets.
fn policy(state: &AppState) -> webhooks::TargetPolicy {
    webhooks::TargetPolicy {
        allow_private: state.config.webhooks_allow_private,
    }
}

/// Add a webhook endpoint
///
/// Admins only. The answer carries the signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = NewEndpoint, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = CreatedEndpoint),
        CreateWebhookErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn create(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<NewEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let (endpoint, secret) =
        webhooks::create_endpoint(&m.ctx(&state)?, &b.url, &b.events, policy(&state)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint,
            secret: secret.expose_secret().to_owned(),
        }),
    ))
}

api_errors!(WebhookActionErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
    WebhookNotFound,
});

api_errors!(UpdateWebhookErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidField,
    ValidationFailed = "`url` is not an http(s) address or an event is unknown; see `fields`",
    WebhookTargetRefused,
    WebhookNotFound,
});

/// Change a webhook endpoint
///
/// Admins only. Replaces the address and the event filter; the secret stays. The new
/// address must be public, as when adding one.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    request_body(content = NewEndpoint, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = Endpoint),
        UpdateWebhookErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn update(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<NewEndpoint>,
) -> Result<Json<Endpoint>, ApiError> {
    let ctx = m.ctx(&state)?;
    Ok(Json(
        webhooks::update_endpoint(&ctx, id, &b.url, &b.events, policy(&state)).await?,
    ))
}

/// Remove a webhook endpoint
///
/// Admins only. The endpoint goes with its delivery log; nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/orgs/{slug}/webhooks/{id}",
    operation_id = "remove_webhook",
    tag = "webhooks",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 204, description = "Removed"),
        WebhookActionErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn remove(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    webhooks::remove_endpoint(&m.ctx(&state)?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate an endpoint's secret
///
/// Admins only. The new secret is shown this once; for 24 hours every delivery is signed
/// with both, so the receiver can switch without losing an event.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/webhooks/{id}/rotate",
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        WebhookActionErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn rotate(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let secret = webhooks::rotate_secret(&m.ctx(&state)?, id).await?;
    Ok(Json(RotatedSecret {
        secret: secret.expose_secret().to_owned(),
    }))
}

/// Send a test event
///
/// Admins only. Queues a `webhook.test` event for this endpoint (if it is active);
/// it appears in the delivery log.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/webhooks/{id}/test",
    operation_id = "test_webhook",
    tag = "webhooks",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 202, description = "Queued", body = QueuedTest),
        WebhookActionErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn test(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<(StatusCode, Json<QueuedTest>), ApiError> {
    let event_id = webhooks::send_test(&m.ctx(&state)?, id).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedTest { event_id })))
}

/// The webhook delivery log
///
/// Admins only. The newest 100 deliveries, newest first: status, attempts, the last
/// HTTP status, latency and an excerpt of the answer.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/webhook-deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The newest deliveries", body = Vec<Delivery>),
        ListWebhooksErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn deliveries(
    State(state): State<AppState>,
    m: OrgMember,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    Ok(Json(webhooks::deliveries(&m.ctx(&state)?, 100).await?))
}

/// Resend a delivery
///
/// Admins only. Makes the delivery due now with a fresh count of attempts; it carries
/// the same `webhook-id`, so receivers can drop a duplicate.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/webhook-deliveries/{id}/resend",
    operation_id = "resend_webhook_delivery",
    tag = "webhooks",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 202, description = "Due now"),
        WebhookActionErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn resend(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    webhooks::resend(&m.ctx(&state)?, id).await?;
    Ok(StatusCode::ACCEPTED)
}
