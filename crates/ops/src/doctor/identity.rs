//! The identity provider. Built-in accounts: the operators group has someone in it.
//! Authentik: reachable, API token valid and privileged (the code behind
//! `loyalty authentik check`), OpenID discovery at the issuer, the redirect URI
//! registered on the provider, the client configured.

use super::Check;
use super::database::Db;
use crate::config::{Config, IdentityMode};
use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::directory::Directory;
use loyalty_identity::BuiltinDirectory;
use loyalty_identity::authentik::AuthentikDirectory;
use loyalty_identity::oidc::{OidcClient, OidcConfig, OidcError};
use secrecy::SecretString;
use std::sync::Arc;

/// The identity provider, as far as the checks found it usable.
pub struct Idp {
    /// The directory, when it can be asked about groups and people.
    pub directory: Option<Arc<dyn Directory>>,
    /// Which provider.
    pub mode: IdentityMode,
    /// Authentik's base URL (for its clock).
    pub authentik_url: Option<String>,
}

/// `builtin` or `authentik`.
pub fn mode_name(config: &Config) -> &'static str {
    match config.identity.mode {
        IdentityMode::Builtin => "builtin",
        IdentityMode::Authentik => "authentik",
    }
}

/// Runs the identity provider's checks.
pub async fn examine(config: &Config, db: Option<&Db>, checks: &mut Vec<Check>) -> Option<Idp> {
    match config.identity.mode {
        IdentityMode::Builtin => builtin(config, db, checks).await,
        IdentityMode::Authentik => Some(authentik(config, checks).await),
    }
}

async fn builtin(config: &Config, db: Option<&Db>, checks: &mut Vec<Check>) -> Option<Idp> {
    let group = &config.identity.operators_group;
    let name = format!("operators in {group}");
    let Some(db) = db.filter(|d| d.current) else {
        checks.push(Check::skip(
            "identity.operators",
            name,
            "built-in accounts live in the database, which cannot be read",
        ));
        return None;
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dir = BuiltinDirectory::new(
        db.store.clone(),
        clock,
        &config.server.public_url(),
        time::Duration::hours(i64::from(config.identity.link_ttl_hours)),
    );
    checks.push(operators(&dir, group, IdentityMode::Builtin).await);
    Some(Idp {
        directory: Some(Arc::new(dir)),
        mode: IdentityMode::Builtin,
        authentik_url: None,
    })
}

/// The operators group has an active member, or nobody can open the operator console.
async fn operators(dir: &dyn Directory, group: &str, mode: IdentityMode) -> Check {
    const ID: &str = "identity.operators";
    let name = format!("operators in {group}");
    let fix = match mode {
        IdentityMode::Builtin => format!(
            "nobody can open the operator console (/operator): make the first operator (a member of {group}) with `loyalty operator add --username NAME --name \"FULL NAME\" --email EMAIL` (it prints a one-time sign-in link)"
        ),
        IdentityMode::Authentik => format!(
            "nobody can open the operator console (/operator): `loyalty operator add --username NAME --name \"FULL NAME\" --email EMAIL` puts someone in the group {group} at Authentik (or add them in Authentik > Directory > Groups)"
        ),
    };
    let group_found = match dir.find_group(group).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return Check::warn(ID, name, format!("the group {group} does not exist"), fix);
        }
        Err(e) => {
            return Check::fail(ID, name, e.to_string(), "see the checks above");
        }
    };
    match dir.list_members(&group_found).await {
        Ok(members) => {
            let active: Vec<String> = members
                .into_iter()
                .filter(|u| u.is_active)
                .map(|u| u.username)
                .collect();
            if active.is_empty() {
                Check::warn(ID, name, format!("{group} has no active member"), fix)
            } else {
                Check::ok(ID, name, active.join(", "))
            }
        }
        Err(e) => Check::fail(ID, name, e.to_string(), "see the checks above"),
    }
}

async fn authentik(config: &Config, checks: &mut Vec<Check>) -> Idp {
    let base = config
        .identity
        .authentik_url
        .as_deref()
        .map(|u| u.trim().trim_end_matches('/').to_owned());
    let mut idp = Idp {
        directory: None,
        mode: IdentityMode::Authentik,
        authentik_url: base.clone(),
    };
    let dir = match crate::authentik::directory(config) {
        Ok(d) => d,
        Err(e) if base.is_none() => {
            checks.push(Check::fail(
                "authentik.reachable",
                "Authentik reachable",
                e.to_string(),
                "set AUTHENTIK_URL to Authentik's base URL, such as https://auth.example.com",
            ));
            checks.push(Check::skip(
                "authentik.token",
                "Authentik API token valid",
                "AUTHENTIK_URL is not set",
            ));
            oidc_checks(config, None, checks).await;
            return idp;
        }
        Err(e) => {
            checks.push(Check::skip(
                "authentik.reachable",
                "Authentik reachable",
                "no API token to call it with",
            ));
            checks.push(Check::fail(
                "authentik.token",
                "Authentik API token valid",
                e.to_string(),
                "create an API token in Authentik > Directory > Tokens and App passwords (intent API, owned by an admin) and set AUTHENTIK_API_TOKEN (or AUTHENTIK_API_TOKEN_FILE)",
            ));
            oidc_checks(config, None, checks).await;
            return idp;
        }
    };
    let token_ok = token_checks(&dir, checks).await;
    oidc_checks(config, token_ok.then_some(&dir), checks).await;
    if token_ok {
        checks.push(
            operators(
                &dir,
                &config.identity.operators_group,
                IdentityMode::Authentik,
            )
            .await,
        );
        idp.directory = Some(Arc::new(dir));
    }
    idp
}

/// Reachable, token valid, token privileged. Whether the token works.
async fn token_checks(dir: &AuthentikDirectory, checks: &mut Vec<Check>) -> bool {
    const REACH: &str = "Authentik reachable";
    const TOKEN: &str = "Authentik API token valid";
    const NEW_TOKEN: &str = "create a new token in Authentik > Directory > Tokens and App passwords (intent API, owned by an admin) and set AUTHENTIK_API_TOKEN (or AUTHENTIK_API_TOKEN_FILE) to it";
    match dir.check().await {
        Ok(report) => {
            checks.push(Check::ok(
                "authentik.reachable",
                REACH,
                format!(
                    "{} answers in {} ms",
                    report.api_url,
                    report.latency.as_millis()
                ),
            ));
            checks.push(Check::ok(
                "authentik.token",
                TOKEN,
                format!("belongs to {}", report.username),
            ));
            checks.push(if report.is_superuser {
                Check::ok(
                    "authentik.permissions",
                    "Authentik API token permissions",
                    format!("{} is a superuser", report.username),
                )
            } else {
                Check::fail(
                    "authentik.permissions",
                    "Authentik API token permissions",
                    format!(
                        "{} is not a superuser; onboarding and creating staff need an admin's token",
                        report.username
                    ),
                    NEW_TOKEN,
                )
            });
            true
        }
        Err(e) => {
            let words = crate::authentik::diagnose(&e);
            if words.starts_with("unreachable") {
                checks.push(Check::fail(
                    "authentik.reachable",
                    REACH,
                    words,
                    "start Authentik or correct AUTHENTIK_URL (its base URL, such as https://auth.example.com); `curl -I $AUTHENTIK_URL/-/health/live/` must answer 200",
                ));
                checks.push(Check::skip(
                    "authentik.token",
                    TOKEN,
                    "Authentik is unreachable",
                ));
            } else {
                checks.push(Check::ok(
                    "authentik.reachable",
                    REACH,
                    format!("{} answers", dir.api_url()),
                ));
                checks.push(Check::fail("authentik.token", TOKEN, words, NEW_TOKEN));
            }
            false
        }
    }
}

/// Client configured, discovery document, issuer, redirect URI.
async fn oidc_checks(config: &Config, dir: Option<&AuthentikDirectory>, checks: &mut Vec<Check>) {
    let public_url = config.server.public_url();
    let redirect = format!("{public_url}/auth/callback");
    let setup = format!("run `loyalty authentik setup --base-url {public_url}`");
    let client_id = config.identity.oidc_client_id.clone();
    checks.push(
        match (&client_id, config.identity.oidc_client_secret.is_some()) {
            (Some(id), true) => Check::ok("oidc.client", "OpenID client configured", id.clone()),
            _ => Check::fail(
                "oidc.client",
                "OpenID client configured",
                "identity.oidc_client_id or oidc_client_secret is not set",
                format!(
                    "{setup} and set LOYALTY_IDENTITY__OIDC_CLIENT_ID and LOYALTY_IDENTITY__OIDC_CLIENT_SECRET to what it prints"
                ),
            ),
        },
    );

    let Some(base) = config
        .identity
        .authentik_url
        .as_deref()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
    else {
        checks.push(Check::skip(
            "oidc.discovery",
            "OpenID discovery",
            "AUTHENTIK_URL is not set",
        ));
        return;
    };
    let slug = &config.identity.app_slug;
    let issuer = format!("{base}/application/o/{slug}/");
    let well_known = format!("{issuer}.well-known/openid-configuration");
    let discovered = async {
        let issuer_url = url::Url::parse(&issuer)
            .map_err(|e| OidcError::Config(format!("issuer {issuer}: {e}")))?;
        let redirect_url = url::Url::parse(&redirect)
            .map_err(|e| OidcError::Config(format!("server.public_url: {e}")))?;
        OidcClient::discover(OidcConfig {
            issuer: issuer_url,
            // Discovery needs no client; a placeholder lets it run before setup.
            client_id: client_id.clone().unwrap_or_else(|| "not-configured".into()),
            client_secret: SecretString::from("-"),
            redirect_url,
        })
        .await
    };
    match discovered.await {
        Ok(client) => {
            checks.push(Check::ok(
                "oidc.discovery",
                "OpenID discovery",
                well_known.clone(),
            ));
            checks.push(Check::ok(
                "oidc.issuer",
                "OpenID issuer matches",
                client.issuer(),
            ));
        }
        Err(OidcError::IssuerMismatch {
            configured,
            announced,
        }) => {
            checks.push(Check::ok(
                "oidc.discovery",
                "OpenID discovery",
                well_known.clone(),
            ));
            checks.push(Check::fail(
                "oidc.issuer",
                "OpenID issuer matches",
                format!("expected {configured}, Authentik announces {announced}"),
                "set AUTHENTIK_URL to the address people reach Authentik at and identity.app_slug to the application's slug, and keep the provider's issuer mode \"per provider\" (Authentik > Applications > Providers)",
            ));
        }
        Err(e) => {
            let fix = match &e {
                OidcError::DiscoveryMissing { .. } => format!(
                    "no application {slug} in Authentik: {setup}, or set identity.app_slug (LOYALTY_IDENTITY__APP_SLUG) to the application's slug"
                ),
                OidcError::Unreachable { .. } => {
                    "start Authentik or correct AUTHENTIK_URL".to_owned()
                }
                _ => format!("{setup} (it repairs the provider and application)"),
            };
            checks.push(Check::fail(
                "oidc.discovery",
                "OpenID discovery",
                e.to_string(),
                fix,
            ));
            checks.push(Check::skip(
                "oidc.issuer",
                "OpenID issuer matches",
                "no discovery document",
            ));
        }
    }

    const REDIRECT: &str = "redirect URI registered";
    let check = match (dir, &client_id) {
        (None, _) => Check::skip(
            "oidc.redirect_uri",
            REDIRECT,
            "the Authentik API cannot be used",
        ),
        (_, None) => Check::skip("oidc.redirect_uri", REDIRECT, "no client id configured"),
        (Some(dir), Some(id)) => match dir.provider_redirect_uris(id).await {
            Ok(None) => Check::fail(
                "oidc.redirect_uri",
                REDIRECT,
                format!("Authentik has no OAuth2 provider with client id {id}"),
                format!("{setup}, or correct LOYALTY_IDENTITY__OIDC_CLIENT_ID"),
            ),
            Ok(Some(uris)) => {
                if uris
                    .iter()
                    .any(|r| r.matching_mode == "strict" && r.url == redirect)
                {
                    Check::ok(
                        "oidc.redirect_uri",
                        REDIRECT,
                        format!("{redirect} (strict)"),
                    )
                } else if let Some(r) = uris.iter().find(|r| r.matching_mode == "regex") {
                    Check::warn(
                        "oidc.redirect_uri",
                        REDIRECT,
                        format!(
                            "the provider allows the pattern {} (regex), which this check cannot evaluate; loyalty sends {redirect}",
                            r.url
                        ),
                        format!("{setup} to register exactly {redirect} in strict mode"),
                    )
                } else {
                    let found: Vec<&str> = uris.iter().map(|r| r.url.as_str()).collect();
                    Check::fail(
                        "oidc.redirect_uri",
                        REDIRECT,
                        format!(
                            "loyalty sends {redirect}, the provider allows [{}]",
                            found.join(", ")
                        ),
                        format!(
                            "{setup} (it corrects the redirect URI), or set server.public_url (LOYALTY_SERVER__PUBLIC_URL) to the address people use"
                        ),
                    )
                }
            }
            Err(e) => Check::fail(
                "oidc.redirect_uri",
                REDIRECT,
                crate::authentik::diagnose(&e),
                "give the API token's user the right to view OAuth2 providers (an admin's token)",
            ),
        },
    };
    checks.push(check);
}
