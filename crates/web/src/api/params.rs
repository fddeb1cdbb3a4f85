//! Parameters and bodies that several operations share (the organization in the path,
//! the `X-Organization` and `Idempotency-Key` headers, money amounts, the enrolment
//! body), described once for the OpenAPI document.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, SchemaFormat};
use utoipa::{IntoParams, ToSchema};

/// A money amount: a decimal string (`"12.50"`, preferred) or a JSON number (`12.5`).
pub fn amount_schema() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples(["12.50"]),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double))),
        )
        .description(Some(
            "Amount in the organization's currency: a decimal string such as \"12.50\" \
             (preferred) or a JSON number",
        ))
        .into()
}

/// Input for enrolling a customer: a phone number, an email address, or both. Unknown
/// fields (`{"balance": 1000}`) are refused like on every other body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnrollInput)]
pub struct EnrollBody {
    /// Phone, in any common notation; without `+` it is read in the organization's country.
    #[schema(example = "202-555-0100")]
    phone: Option<String>,
    /// Email.
    #[schema(example = "ada@example.com")]
    email: Option<String>,
    /// Name, at most 255 characters.
    name: Option<String>,
}

impl From<EnrollBody> for loyalty_core::service::points::EnrollInput {
    fn from(b: EnrollBody) -> Self {
        Self {
            phone: b.phone,
            email: b.email,
            name: b.name,
        }
    }
}

/// The organization named in the path.
#[allow(dead_code)] // documentation only
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgPath {
    /// Slug of the organization, such as `nextdoor`.
    slug: String,
}

/// The organization and a resource in it, named in the path.
#[allow(dead_code)] // documentation only
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgIdPath {
    /// Slug of the organization, such as `nextdoor`.
    slug: String,
    /// Id of the resource (a UUID); another value answers `400 request.path`.
    id: uuid::Uuid,
}

/// The runbook's `X-Organization` header.
#[allow(dead_code)] // documentation only
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OrgHeader {
    /// Optional. The organization's slug; when sent it must equal `{slug}` of the path,
    /// or the request answers `400 org.mismatch`.
    #[param(rename = "X-Organization", value_type = String, required = false)]
    x_organization: Option<String>,
}

/// The `Idempotency-Key` header of the till's writes.
#[allow(dead_code)] // documentation only
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// Required. A new random value (a UUID) per operation, the same one on retries; 1-255
    /// visible ASCII characters. Missing: `400 idempotency.missing`; reused with a different
    /// request: `409 idempotency.mismatch`. Remembered for 7 days by default
    /// (`housekeeping.idempotency_days`): a retry after that is a new request.
    #[param(
        rename = "Idempotency-Key",
        example = "7b0e4a8e-3c55-4c59-9a53-0c6f3c9a1f2d"
    )]
    idempotency_key: String,
}
