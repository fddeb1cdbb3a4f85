//! The error answers of each operation in the OpenAPI document, built from the codes the
//! operation can return: each code's status and description come from the catalogue
//! ([`ErrorCode`]), so the documentation cannot name a code with another status than the
//! one the API sends. An operation lists its codes once, with [`api_errors!`].

use loyalty_core::ErrorCode;
use std::collections::BTreeMap;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The codes of every operation that needs a session or a token.
pub const SIGNED_IN: &[ErrorCode] = &[ErrorCode::AuthRequired, ErrorCode::AuthInvalidToken];

/// The codes of every operation (the server's own failure, the database out of reach).
pub const ALWAYS: &[ErrorCode] = &[ErrorCode::Internal, ErrorCode::Unavailable];

/// The codes of every operation that reads query-string parameters.
pub const QUERY: &[ErrorCode] = &[ErrorCode::RequestQuery];

/// The codes of every operation with a JSON body that the handler reads whole.
pub const JSON_BODY: &[ErrorCode] = &[ErrorCode::RequestTooLarge, ErrorCode::RequestContentType];

/// One code an operation can return, and what it means there (`None`: the catalogue's
/// description).
pub type Documented = (ErrorCode, Option<&'static str>);

/// The error responses for these codes: one response per status, whose description names
/// each code and what it means, and whose body is the shared `ErrorBody`.
pub fn responses(
    groups: &[&[ErrorCode]],
    codes: &[Documented],
) -> BTreeMap<String, RefOr<Response>> {
    let all = codes
        .iter()
        .copied()
        .chain(groups.iter().flat_map(|g| g.iter()).map(|c| (*c, None)));
    let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for (code, note) in all {
        let line = format!("`{code}` ({})", note.unwrap_or(code.describe()));
        let lines = by_status.entry(code.status()).or_default();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    by_status
        .into_iter()
        .map(|(status, lines)| {
            let response = ResponseBuilder::new()
                .description(format!("Codes: {}.", lines.join(", ")))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Declares the error answers of one operation, for its `#[utoipa::path(responses(..))]`:
/// a name, the shared groups ([`SIGNED_IN`], [`JSON_BODY`], ...) and the codes, each with
/// what it means for this operation when the catalogue's description is not enough.
///
/// ```text
/// api_errors!(EnrollCustomerErrors [SIGNED_IN, JSON_BODY] { OrgMismatch, CustomerExists = "..." });
/// ```
macro_rules! api_errors {
    ($name:ident [$($group:ident),*] { $($code:ident $(= $note:literal)?),* $(,)? }) => {
        /// The error answers of this operation, from the codes it can return.
        pub(crate) struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                use $crate::api::error_docs::*;
                responses(
                    &[ALWAYS, $($group),*],
                    &[$((loyalty_core::ErrorCode::$code, api_errors!(@note $($note)?))),*],
                )
            }
        }
    };
    (@note) => { None };
    (@note $note:literal) => { Some($note) };
}

pub(crate) use api_errors;
