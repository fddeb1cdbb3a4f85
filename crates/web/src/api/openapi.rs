//! The OpenAPI 3.1 document of the JSON API, generated from the `#[utoipa::path]`
//! attributes on the handlers and the `ToSchema` derives on their types. Served at
//! [`OPENAPI_PATH`], with Swagger UI at [`DOCS_PATH`].
//!
//! Every operation lists each error status it can answer and, in that response's
//! description, the stable codes (`error.code`) the status can carry; both are built from
//! the codes the operation declares with `api_errors!` (see `error_docs`).

use crate::session;
use axum::Router;
use loyalty_core::ErrorCode;
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs";

/// Name of the session-cookie security scheme.
pub const SESSION_SCHEME: &str = "session";
/// Name of the API-token security scheme.
pub const TOKEN_SCHEME: &str = "api_token";

const API_DESCRIPTION: &str = "\
Multi-tenant loyalty points. Every organization's resources live under \
`/api/v1/orgs/{slug}/...`.

## Authentication

* **Till devices** send an org-scoped API token: `Authorization: Bearer lyt_...` \
(role `cashier` or `admin`, made with `POST /api/v1/orgs/{slug}/tokens`).
* **People** send the session cookie `loyalty_session` set at sign-in; their identity-provider \
groups give their role (`admin`, `cashier`, `customer`) in each organization.

The optional `X-Organization` header may name the organization too; when sent it must agree \
with the path, or the request is refused with `400 org.mismatch`.

## Idempotency

The till's writes (`purchases`, `purchases/{id}/reverse`, `redemptions`, `adjustments`) \
require an `Idempotency-Key` header: a new random value (a UUID) per operation, the same one \
on retries. A retry answers the first result with the same status and `\"replayed\": true`; \
the same key with a different request is refused with `409 idempotency.mismatch`. \
A key is remembered for a window: 7 days unless the installation sets another \
(`housekeeping.idempotency_days`). A retry after the window is a new request and makes a new \
award, redemption or adjustment, so retry within minutes or hours, never days later.

## Errors

Every error answer (except the few noted as plain text) has the body \
`{\"error\": {\"code\": \"...\", \"message\": \"...\", \"fields\": [...]}}` (`ErrorBody`). \
`code` is stable and meant for programs; `message` is for people and may change; `fields` \
is present only with `validation.failed` and names each invalid input.";

/// The end of the description, after the table of codes by status.
const API_DESCRIPTION_END: &str = "\
Besides these: unknown routes answer `404 route.not_found`; a known route with another method \
answers `405` with an empty body; a request that takes longer than the configured timeout \
answers `408` with an empty body; a query string that does not parse (such as `limit=abc`) \
answers `400` with a plain-text body.";

/// The body of every error answer.
#[allow(dead_code)] // documentation only; `crate::error::ApiError` writes this shape
#[derive(ToSchema)]
#[schema(example = json!({"error": {"code": "validation.failed", "message": "phone: give a phone number, an email address, or both", "fields": [{"field": "phone", "message": "give a phone number, an email address, or both"}]}}))]
pub struct ErrorBody {
    /// The error.
    error: ErrorDetail,
}

/// What went wrong.
#[allow(dead_code)] // documentation only
#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Stable code, for programs; see each response for the codes it can carry.
    #[schema(schema_with = error_code_schema)]
    code: String,
    /// A sentence for people; may change.
    message: String,
    /// The invalid fields; present only with `validation.failed`.
    #[schema(nullable = false)]
    fields: Option<Vec<FieldErrorBody>>,
}

/// One invalid input field.
#[allow(dead_code)] // documentation only; mirrors `loyalty_core::FieldError`
#[derive(ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorBody {
    /// The field, as the request named it (`phone`, `Idempotency-Key`).
    field: String,
    /// What is wrong and how to fix it.
    message: String,
}

/// Every stable error code the API can send in `error.code`, in catalogue order.
pub fn api_codes() -> impl Iterator<Item = ErrorCode> {
    ErrorCode::ALL.iter().copied().filter(|c| c.in_api())
}

/// The table of codes by status in the description, from the catalogue.
fn codes_by_status() -> String {
    let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for code in api_codes() {
        by_status
            .entry(code.status())
            .or_default()
            .push(format!("`{code}`"));
    }
    let rows: Vec<String> = by_status
        .into_iter()
        .map(|(status, codes)| format!("| {status} | {} |", codes.join(", ")))
        .collect();
    format!("| status | codes |\n|---|---|\n{}", rows.join("\n"))
}

fn error_code_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(api_codes().map(ErrorCode::as_str)))
        .into()
}

/// Completes the description with the table of error codes by status.
struct ErrorTable;

impl Modify for ErrorTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.description = Some(format!(
            "{API_DESCRIPTION}\n\n{}\n\n{API_DESCRIPTION_END}",
            codes_by_status()
        ));
    }
}

/// Adds the two ways in: the session cookie and the API token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                session::COOKIE,
                "Session cookie set at sign-in; the person's identity-provider groups give \
                 their role in each organization.",
            ))),
        );
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("lyt_...")
                    .description(Some(
                        "An organization's API token for till devices, \
                         `Authorization: Bearer lyt_...`; role cashier or admin.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The operations of `/api/v1`, with paths relative to it (as the router declares them).
#[derive(OpenApi)]
#[openapi(paths(
    super::orgs::public_info,
    super::customers::list_or_lookup,
    super::customers::enroll,
    super::customers::one,
    super::customers::set_consent,
    super::customers::balance,
    super::customers::customer_ledger,
    super::customers::org_ledger,
    super::customers::me,
    super::customers::my_ledger,
    super::privacy::export_customer,
    super::privacy::erase_customer,
    super::privacy::export_me,
    super::privacy::erase_me,
    super::points::award,
    super::points::purchase,
    super::points::reverse,
    super::points::redeem,
    super::points::adjust,
    super::rewards::list,
    super::rewards::create,
    super::rewards::update,
    super::programs::current,
    super::programs::version,
    super::programs::add_card,
    super::programs::add_promotion,
    super::programs::set_bonuses,
    super::programs::add_tier,
    super::programs::set_tier_rules,
    super::programs::customer_tier,
    super::programs::end,
    super::programs::preview,
    super::programs::cards,
    super::programs::redeem_card,
    super::admin::list_tokens,
    super::admin::create_token,
    super::admin::revoke_token,
    super::admin::settings,
    super::admin::audit,
    super::exports::ledger,
    super::exports::balances,
    super::exports::purchases,
    super::exports::summary,
    super::checkpoints::list,
    super::checkpoints::file,
    super::webhooks::list,
    super::webhooks::create,
    super::webhooks::update,
    super::webhooks::remove,
    super::webhooks::rotate,
    super::webhooks::test,
    super::webhooks::deliveries,
    super::webhooks::resend,
))]
struct V1;

/// The whole document.
#[derive(OpenApi)]
#[openapi(
    info(title = "loyalty API", description = API_DESCRIPTION),
    nest((path = "/api/v1", api = V1)),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes, &ErrorTable),
    tags(
        (name = "orgs", description = "Public facts about an organization"),
        (name = "customers", description = "Enroll, find and read customers and their ledger"),
        (name = "points", description = "The till's writes: purchases, reversals, redemptions, adjustments"),
        (name = "rewards", description = "The rewards catalog"),
        (name = "program", description = "The loyalty program: stamp cards, promotions, previews and stamp-card rewards"),
        (name = "admin", description = "API tokens, points settings, the audit log, exports and the ledger's signed checkpoints"),
        (name = "webhooks", description = "Webhook endpoints, their secrets and the delivery log"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/openapi.json` and Swagger UI under `/api/docs`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, document())
        .into()
}
