//! The catalogue of stable error codes: one row per code, with the string API clients and
//! scripts match on, the HTTP status it answers, the key of its text on the pages and the
//! sentence that documents it in the OpenAPI document. Adding a code is adding a row here;
//! the API's status, the OpenAPI responses and the pages' texts all read from it.

use std::fmt;

/// Declares [`ErrorCode`] and its lookup tables from one list of rows, so a code cannot
/// get a string without a status, a text key and a description.
macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $code:literal, $status:literal, $key:literal, $api:ident, $describe:literal;
    )+) => {
        /// A stable error code. The strings never change: API clients and scripts depend
        /// on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The stable string, such as `customer.exists`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            /// The HTTP status this code answers (500 for the server's own failures).
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                }
            }

            /// The key of the pages' text for this code (en-US and pt-BR).
            pub const fn i18n_key(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $key,)+
                }
            }

            /// Whether the JSON API sends this code as it is. The server's own failures
            /// are sent as `internal`; a few codes belong to pages and the command line only.
            pub const fn in_api(self) -> bool {
                match self {
                    $(ErrorCode::$variant => catalogue!(@api $api),)+
                }
            }

            /// What the code means, for the API documentation.
            pub const fn describe(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $describe,)+
                }
            }
        }
    };
    (@api api) => { true };
    (@api local) => { false };
}

catalogue! {
    /// No session and no bearer token, or the session has ended.
    AuthRequired = "auth.required", 401, "err_auth_required", api,
        "no session cookie and no bearer token, or the session has ended";
    /// The bearer token is malformed, unknown or revoked.
    AuthInvalidToken = "auth.invalid_token", 401, "err_auth_invalid_token", api,
        "the bearer token lacks the `lyt_` prefix, is unknown or was revoked";
    /// The caller's role here does not allow this.
    AuthForbidden = "auth.forbidden", 403, "err_forbidden", api,
        "the caller has no role in this organization that allows this";
    /// No (active) organization with this slug.
    OrgNotFound = "org.not_found", 404, "org_not_found_text", api,
        "no active organization with this slug; one still being onboarded is not visible";
    /// The organization is suspended.
    OrgSuspended = "org.suspended", 403, "org_suspended_text", api,
        "the organization is suspended";
    /// `X-Organization` names another organization than the path.
    OrgMismatch = "org.mismatch", 400, "err_org_mismatch", api,
        "`X-Organization` names another organization than the path";
    /// Neither the path nor `X-Organization` names an organization.
    OrgMissing = "org.missing", 400, "err_org_missing", api,
        "neither the path nor `X-Organization` names an organization";
    /// The organization has not finished onboarding.
    OrgOnboarding = "org.onboarding", 409, "err_org_onboarding", local,
        "the organization has not finished onboarding";
    /// The OpenID Connect settings are unusable.
    AuthConfig = "auth.config", 500, "signin_unavailable", local,
        "the OpenID Connect settings are unusable";
    /// The identity provider (or its keys) cannot be reached.
    AuthProviderUnavailable = "auth.provider_unavailable", 500, "signin_unavailable", local,
        "the identity provider or its signing keys cannot be reached";
    /// The provider's discovery document lacks a required field.
    AuthDiscoveryMissing = "auth.discovery_missing", 500, "signin_unavailable", local,
        "the identity provider's discovery document lacks a required field";
    /// The provider's discovery document is unusable.
    AuthDiscoveryInvalid = "auth.discovery_invalid", 500, "signin_unavailable", local,
        "the identity provider's discovery document is unusable";
    /// The provider names another issuer than the one configured.
    AuthIssuerMismatch = "auth.issuer_mismatch", 500, "signin_unavailable", local,
        "the identity provider names another issuer than the one configured";
    /// The sign-in came back with another state than the one sent.
    AuthStateMismatch = "auth.state_mismatch", 400, "login_oidc_failed", local,
        "the sign-in came back with another state than the one sent, or has expired";
    /// The provider refused the authorization code.
    AuthCodeRejected = "auth.code_rejected", 400, "login_oidc_failed", local,
        "the identity provider refused the authorization code";
    /// The provider's userinfo endpoint failed or answered for another subject.
    AuthUserinfoFailed = "auth.userinfo_failed", 500, "signin_unavailable", local,
        "the identity provider's userinfo failed or answered for another subject";
    /// The body is not JSON.
    RequestMalformedJson = "request.malformed_json", 400, "err_bad_request", api,
        "the body is not JSON";
    /// A field is missing, unknown or of the wrong JSON type.
    RequestInvalidField = "request.invalid_field", 422, "err_bad_request", api,
        "a field is missing, unknown or of the wrong JSON type";
    /// The body was not sent as JSON.
    RequestContentType = "request.content_type", 415, "err_bad_request", api,
        "send the body with `Content-Type: application/json`";
    /// The body is larger than the configured limit.
    RequestTooLarge = "request.too_large", 413, "err_too_large", api,
        "the body is larger than the configured limit, 64 KiB by default";
    /// The body could not be read.
    RequestInvalid = "request.invalid", 400, "err_bad_request", api,
        "the body could not be read";
    /// A path parameter does not parse.
    RequestPath = "request.path", 400, "err_bad_request", api,
        "a path parameter does not parse (`id` is not a UUID)";
    /// The cursor is not one this server gave out.
    RequestInvalidCursor = "request.invalid_cursor", 400, "err_bad_request", api,
        "the cursor is not one this server gave out";
    /// A query-string parameter does not parse.
    RequestQuery = "request.query", 400, "err_bad_request", api,
        "a query-string parameter does not parse (`limit=abc`); the message names it";
    /// `limit` is out of range.
    RequestInvalidLimit = "request.invalid_limit", 422, "err_bad_request", api,
        "`limit` is not 1-200";
    /// A till write without an `Idempotency-Key`.
    IdempotencyMissing = "idempotency.missing", 400, "err_bad_request", api,
        "no `Idempotency-Key` header";
    /// The same idempotency key came with a different request.
    IdempotencyMismatch = "idempotency.mismatch", 409, "err_resubmitted", api,
        "this `Idempotency-Key` was already used for a different request";
    /// A purchase recorded offline whose recorder token is forged, expired, or of
    /// another organization or till.
    TillRecorderRefused = "till.recorder_refused", 403, "err_till_recorder_refused", local,
        "the purchase recorded offline carries no valid recorder token: forged, older than 7 days, or of another organization or till";
    /// A purchase recorded offline by a person who is no longer active staff here.
    TillRecorderInactive = "till.recorder_inactive", 403, "err_till_recorder_inactive", local,
        "the person who recorded the purchase offline is no longer an active cashier or admin of this organization";
    /// A redemption recorded offline where the shop allows none, or above its limit.
    TillOfflineRedeemRefused = "till.offline_redeem_refused", 409, "err_till_offline_redeem_refused", local,
        "the shop does not allow redemptions offline, or the points are above its daily offline limit";
    /// One or more inputs are invalid.
    ValidationFailed = "validation.failed", 422, "check_input", api,
        "one or more inputs are invalid; `fields` names each";
    /// No such route.
    RouteNotFound = "route.not_found", 404, "page_not_found_text", api,
        "no such route";
    /// Something the person named does not exist (staff member, account, organization).
    NotFound = "not_found", 404, "err_not_found", local,
        "the named thing does not exist";
    /// No such customer in this organization.
    CustomerNotFound = "customer.not_found", 404, "err_not_found", api,
        "no such customer in this organization";
    /// A customer with this phone, email or account is already enrolled.
    CustomerExists = "customer.exists", 409, "err_customer_exists", api,
        "a customer with this phone number or email address is already enrolled; look them up instead";
    /// No free card number was found.
    CustomerCardCollision = "customer.card_collision", 409, "err_card_collision", api,
        "no free card number was found; try again";
    /// No such webhook endpoint or delivery in this organization.
    WebhookNotFound = "webhook.not_found", 404, "err_not_found", api,
        "no such webhook endpoint or delivery in this organization";
    /// The endpoint's address is private, loopback, link-local or otherwise internal,
    /// or does not resolve.
    WebhookTargetRefused = "webhook.target_refused", 422, "err_webhook_target", api,
        "the endpoint's address does not resolve, or resolves to a private, loopback, link-local, multicast or shared address; webhooks go to public addresses only";
    /// The wallet card's logo is not a PNG image.
    WalletLogoNotPng = "wallet.logo_not_png", 422, "err_wallet_logo_not_png", local,
        "the wallet card's logo is not a PNG image";
    /// The wallet card's logo is larger than 256 KiB or 660 x 660 pixels.
    WalletLogoTooLarge = "wallet.logo_too_large", 422, "err_wallet_logo_too_large", local,
        "the wallet card's logo is larger than 256 KiB or 660 x 660 pixels";
    /// The link to a member's wallet card was used, expired, or is not one of this shop's.
    WalletLinkInvalid = "wallet.link_invalid", 404, "err_wallet_link_invalid", local,
        "the link to the member's wallet card was used, expired, or is not one of this shop's";
    /// No such purchase in this organization.
    PurchaseNotFound = "purchase.not_found", 404, "err_not_found", api,
        "no such purchase in this organization";
    /// The amount is above the shop's usual purchases and the cashier did not confirm it.
    PurchaseUnusualAmount = "purchase.unusual_amount", 409, "err_unusual_amount", local,
        "the amount is above the shop's usual purchases; confirm it a second time";
    /// The purchase was already refunded in full.
    PurchaseAlreadyReversed = "purchase.already_reversed", 409, "err_already_reversed", api,
        "the purchase was already reversed in full";
    /// The refund is larger than what is left of the purchase.
    PurchaseReverseExceeds = "purchase.reverse_exceeds", 422, "err_reverse_exceeds", api,
        "the refund is more than what is left of the purchase";
    /// A cashier may only reverse the same day's purchases.
    PurchaseReverseTooOld = "purchase.reverse_too_old", 403, "err_reverse_old", api,
        "only admins reverse purchases of an earlier day";
    /// No such reward in this organization.
    RewardNotFound = "reward.not_found", 404, "err_not_found", api,
        "no such reward in this organization";
    /// The reward is switched off.
    RewardInactive = "reward.inactive", 409, "err_reward_inactive", api,
        "the reward is switched off";
    /// The reward has no stock left.
    RewardOutOfStock = "reward.out_of_stock", 409, "err_out_of_stock", api,
        "the reward has no stock left";
    /// A reward with this name already exists.
    RewardExists = "reward.exists", 409, "err_reward_exists", api,
        "a reward with this name already exists";
    /// The balance would go below zero.
    PointsInsufficient = "points.insufficient", 409, "err_insufficient", api,
        "the balance would go below zero";
    /// No such stamp card in the organization's program.
    StampCardNotFound = "stamp_card.not_found", 404, "err_stamp_card_not_found", api,
        "no such stamp card in this organization's program";
    /// The card does not hold enough stamps for its reward.
    StampsInsufficient = "stamps.insufficient", 409, "err_stamps_insufficient", api,
        "the card does not hold enough stamps for its reward";
    /// No such version of the organization's program.
    ProgramVersionNotFound = "program.version_not_found", 404, "err_not_found", api,
        "no such version of this organization's program";
    /// The program changed since it was read.
    ProgramChanged = "program.changed", 409, "err_program_changed", api,
        "the program was changed by someone else meanwhile; read it again and retry";
    /// No such signed checkpoint of this organization's ledger.
    CheckpointNotFound = "checkpoint.not_found", 404, "err_not_found", api,
        "no such checkpoint of this organization's ledger";
    /// No such live API token in this organization.
    TokenNotFound = "token.not_found", 404, "err_not_found", api,
        "no such live token in this organization";
    /// The username is taken by someone else.
    UserExists = "user.exists", 409, "err_user_exists", local,
        "the username is taken by someone else";
    /// An admin tried to deactivate themselves.
    StaffSelf = "staff.self", 409, "err_staff_self", local,
        "staff cannot deactivate themselves";
    /// The email joining online already has an account.
    JoinAccountExists = "join.account_exists", 409, "err_join_account_exists", local,
        "this email already has an account; sign in first";
    /// A claim link is unknown, used already or expired.
    ClaimInvalid = "claim.invalid", 404, "err_claim_invalid", local,
        "the claim link is unknown, was used already or has expired";
    /// The customer already has an online account.
    ClaimAlreadyClaimed = "claim.already_claimed", 409, "err_claim_already_claimed", local,
        "the customer already has an online account";
    /// The identity provider cannot issue one-time links.
    IdentityNoLinks = "identity.no_links", 409, "err_no_links", local,
        "the identity provider cannot issue one-time links";
    /// A re-run of onboarding names an existing admin with another email.
    OnboardAdminMismatch = "onboard.admin_mismatch", 409, "err_admin_mismatch", local,
        "the admin's username exists with another email address";
    /// Another run is onboarding the organization right now.
    OnboardInProgress = "onboard.in_progress", 409, "err_onboard_in_progress", local,
        "another run is onboarding this organization right now";
    /// An operator who opened a shop's admin panel read-only for support tried to change
    /// something.
    OperatorReadOnly = "operator.read_only", 403, "err_operator_read_only", local,
        "operators open a shop's admin panel read-only: nothing can be changed there";
    /// The server failed (storage or identity provider); details are in the server log.
    Internal = "internal", 500, "err_internal", api,
        "storage or identity provider failed; the details are in the server log, never in the answer";
    /// The database, the identity provider or a folder of the server cannot be used for
    /// now; retry after the `Retry-After` seconds.
    Unavailable = "unavailable", 503, "err_unavailable", api,
        "the database, the identity provider or a folder of the server cannot be used for now; retry after the `Retry-After` header's seconds";
    /// The store failed.
    InternalStore = "internal.store", 500, "err_internal", local,
        "the store failed";
    /// The store refused a write that conflicts with a row it holds.
    StoreConflict = "conflict", 500, "err_internal", local,
        "the store refused a conflicting write";
    /// The identity provider refused because the object exists.
    DirectoryExists = "directory.exists", 500, "err_internal", local,
        "the identity provider already has this user or group";
    /// The identity provider does not know the user or group.
    DirectoryNotFound = "directory.not_found", 500, "err_internal", local,
        "the identity provider does not know this user or group";
    /// The identity provider failed.
    DirectoryFailed = "directory.failed", 500, "err_internal", local,
        "the identity provider failed";
}

impl ErrorCode {
    /// The code the JSON API sends: this one, or `internal` for the server's own failures
    /// (except `unavailable`, which tells a client to retry).
    pub const fn public(self) -> ErrorCode {
        if self.status() >= 500 && !matches!(self, ErrorCode::Unavailable) {
            ErrorCode::Internal
        } else {
            self
        }
    }

    /// Whether the caller can fix this by changing the input (exit code 2, HTTP 4xx).
    pub const fn is_user_error(self) -> bool {
        self.status() < 500
    }

    /// The code with this string, if there is one.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

// Comparing with the string keeps assertions and scripts written against the wire form.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<ErrorCode> for &str {
    fn eq(&self, other: &ErrorCode) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let strings: BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!(!code.describe().is_empty(), "{code}");
            assert!(!code.i18n_key().is_empty(), "{code}");
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    #[test]
    fn server_failures_are_sent_as_internal() {
        assert!(ErrorCode::Internal.in_api());
        assert_eq!(ErrorCode::Unavailable.public(), ErrorCode::Unavailable);
        for code in ErrorCode::ALL {
            if *code == ErrorCode::Unavailable {
                continue;
            }
            if code.status() >= 500 {
                assert_eq!(code.public(), ErrorCode::Internal, "{code}");
            } else {
                assert_eq!(code.public(), *code, "{code}");
            }
        }
    }
}
