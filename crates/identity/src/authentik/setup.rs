//! Sets up `loyalty` as an OpenID Connect application in Authentik (runbook step 3.2):
//! finds or creates the OAuth2/OpenID provider and the application, idempotently.
//!
//! Calls, in order (paths under `/api/v3`, the same in the 2025.12 and 2026.2 schemas):
//! - `GET /flows/instances/?slug=` for the authorization flow;
//! - the invalidation flow with a User Logout stage and the recovery flow for one-time
//!   links, found, made or repaired, and the brand's recovery flow (see [`super::flows`]);
//! - `GET /propertymappings/provider/scope/?scope_name=` for openid, email and profile
//!   (Authentik's own, `managed`, mappings preferred);
//! - `GET /crypto/certificatekeypairs/?has_key=true` for the signing key ("authentik
//!   Self-signed Certificate" preferred, else the first RSA key, else the first key);
//! - `GET /providers/oauth2/?client_id=`, then `POST /providers/oauth2/`, or `PATCH
//!   /providers/oauth2/{id}/` when the redirect URIs, signing key, scope mappings or
//!   invalidation flow differ from what loyalty needs;
//! - `GET /core/applications/{slug}/`, then `POST /core/applications/` (or `PATCH` to
//!   attach the provider to an application that has none).

use super::api::failed;
use super::flows::{BrandRecovery, FlowReport, LOYALTY_INVALIDATION_FLOW, LOYALTY_RECOVERY_FLOW};
use super::{AuthentikDirectory, ok, wire};
use loyalty_core::directory::DirectoryError;
use loyalty_core::domain::OrgSlug;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use url::Url;

/// The name of the key pair every Authentik creates at installation.
pub const DEFAULT_SIGNING_KEY: &str = "authentik Self-signed Certificate";
/// Authentik's default authorization flow for providers (consent implied).
pub const DEFAULT_AUTHORIZATION_FLOW: &str = "default-provider-authorization-implicit-consent";
/// The invalidation (sign-out) flow providers get: loyalty's, which ends the Authentik
/// session. (Authentik's `default-provider-invalidation-flow` keeps it.)
pub const DEFAULT_INVALIDATION_FLOW: &str = LOYALTY_INVALIDATION_FLOW;
/// The recovery flow the brand gets for one-time links.
pub const DEFAULT_RECOVERY_FLOW: &str = LOYALTY_RECOVERY_FLOW;
/// The scopes loyalty asks for; their mappings are attached to the provider.
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// What to find or create.
#[derive(Debug, Clone)]
pub struct OidcAppPlan {
    /// loyalty's public base URL (`https://loyalty.example.com`).
    pub public_url: Url,
    /// The OAuth2 client id: `loyalty`, or `{org}-loyalty` for a dedicated provider.
    pub client_id: String,
    /// The provider's name in Authentik (the client id).
    pub provider_name: String,
    /// The application's slug (its issuer is `{authentik}/application/o/{slug}/`).
    pub app_slug: String,
    /// The application's display name.
    pub app_name: String,
    /// Slug of the authorization flow.
    pub authorization_flow: String,
    /// Slug of the invalidation flow.
    pub invalidation_flow: String,
    /// Slug of the recovery flow for one-time links.
    pub recovery_flow: String,
    /// Replace the brand's recovery flow when it has another one.
    pub replace_brand_recovery: bool,
}

fn check_slug(what: &str, slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.len() <= 50
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {slug:?} is not a slug; write letters, digits, hyphens or underscores, such as loyalty"
        ))
    }
}

impl OidcAppPlan {
    /// The plan for loyalty at `public_url`: a shared provider (`loyalty`), or with `org`
    /// a dedicated one (`{org}-loyalty`, as in the runbook). The application slug is the
    /// client id unless `app_slug` is given.
    pub fn new(
        public_url: &str,
        org: Option<&str>,
        app_slug: Option<&str>,
    ) -> Result<Self, String> {
        let mut url = Url::parse(public_url.trim()).map_err(|e| {
            format!("--base-url {public_url:?} is not a URL ({e}); write it like https://loyalty.example.com")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "--base-url {public_url:?} must be an http(s) URL with a host, such as https://loyalty.example.com"
            ));
        }
        url.set_query(None);
        url.set_fragment(None);
        let (client_id, app_name) = match org {
            Some(org) => {
                let slug = OrgSlug::parse(org).map_err(|e| format!("--org: {}", e.message))?;
                let slug = slug.as_str();
                (format!("{slug}-loyalty"), format!("{slug} loyalty"))
            }
            None => ("loyalty".to_owned(), "Loyalty".to_owned()),
        };
        let app_slug = app_slug.map_or_else(|| client_id.clone(), |s| s.trim().to_owned());
        check_slug("--app-slug", &app_slug)?;
        Ok(Self {
            public_url: url,
            provider_name: client_id.clone(),
            client_id,
            app_slug,
            app_name,
            authorization_flow: DEFAULT_AUTHORIZATION_FLOW.into(),
            invalidation_flow: DEFAULT_INVALIDATION_FLOW.into(),
            recovery_flow: DEFAULT_RECOVERY_FLOW.into(),
            replace_brand_recovery: false,
        })
    }

    /// `{public URL}/auth/callback`, registered in strict mode.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}/auth/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOutcome {
    /// Made by this run.
    Created,
    /// Found as needed.
    Existing,
    /// Found and changed; says what changed.
    Updated(Vec<String>),
}

/// A redirect URI as registered on a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredRedirect {
    /// `strict` (exact match) or `regex`.
    pub matching_mode: String,
    /// The URL, or the pattern in `regex` mode.
    pub url: String,
}

/// The result of [`AuthentikDirectory::setup_oidc_application`].
#[derive(Debug)]
pub struct OidcAppReport {
    /// The provider.
    pub provider: SetupOutcome,
    /// The provider's key.
    pub provider_pk: i64,
    /// The application.
    pub application: SetupOutcome,
    /// The client id.
    pub client_id: String,
    /// The client secret (Authentik generates it; it shows it to admins on every read).
    pub client_secret: SecretString,
    /// The redirect URI registered.
    pub redirect_uri: String,
    /// The issuer loyalty must be configured with: `{authentik}/application/o/{slug}/`.
    pub issuer: String,
    /// The name of the signing key.
    pub signing_key: String,
    /// The provider's invalidation flow.
    pub invalidation_flow: FlowReport,
    /// The recovery flow for one-time links.
    pub recovery_flow: FlowReport,
    /// What happened to the brand's recovery flow.
    pub brand_recovery: BrandRecovery,
    /// What still needs a person's attention.
    pub warnings: Vec<String>,
}

impl AuthentikDirectory {
    /// Finds or creates the flows, the OAuth2/OpenID provider and the application for
    /// `plan`. Safe to repeat: a second run finds them, completes a flow that lacks a
    /// stage, and corrects a provider whose redirect URIs, signing key, scope mappings or
    /// invalidation flow differ.
    pub async fn setup_oidc_application(
        &self,
        plan: &OidcAppPlan,
    ) -> Result<OidcAppReport, DirectoryError> {
        let authorization_flow = self.flow(&plan.authorization_flow).await?;
        let (invalidation_flow, invalidation_report, warning) =
            self.invalidation_flow(&plan.invalidation_flow).await?;
        let mut warnings: Vec<String> = warning.into_iter().collect();
        let (recovery_flow, recovery_report, warning) =
            self.recovery_flow(&plan.recovery_flow).await?;
        warnings.extend(warning);
        let brand_recovery = self
            .brand_recovery(
                &recovery_flow,
                &recovery_report.slug,
                plan.replace_brand_recovery,
            )
            .await?;
        if let BrandRecovery::Kept { domain, flow } = &brand_recovery {
            warnings.push(format!(
                "brand {domain} keeps its recovery flow {flow}; one-time links go through it. If it asks for the username again or sends mail, run setup again with --replace-brand-recovery to use {}",
                recovery_report.slug
            ));
        }
        let mut mappings = Vec::new();
        for scope in SCOPES {
            mappings.push(self.scope_mapping(scope).await?);
        }
        let key = self.signing_key().await?;
        let redirect = wire::RedirectUri {
            matching_mode: "strict".into(),
            url: plan.redirect_uri(),
        };

        let (provider, provider_outcome) = match self.find_provider(&plan.client_id).await? {
            None => {
                let action = format!("creating OAuth2 provider {}", plan.provider_name);
                let body = json!({
                    "name": plan.provider_name,
                    "authorization_flow": authorization_flow,
                    "invalidation_flow": invalidation_flow,
                    "property_mappings": mappings,
                    "client_type": "confidential",
                    "client_id": plan.client_id,
                    "signing_key": key.pk,
                    "redirect_uris": [redirect],
                    "sub_mode": "hashed_user_id",
                    "issuer_mode": "per_provider",
                    "include_claims_in_id_token": true,
                });
                let reply = self
                    .send(Method::POST, &["providers", "oauth2"], &body, &action)
                    .await?;
                let p: wire::OAuth2Provider =
                    ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
                (p, SetupOutcome::Created)
            }
            Some(p) => {
                if let Some(other) = p
                    .assigned_application_slug
                    .as_deref()
                    .filter(|s| *s != plan.app_slug)
                {
                    return Err(failed(
                        &format!("checking OAuth2 provider {}", p.name),
                        format!(
                            "it belongs to application {other}, not {}; run again with --app-slug {other}",
                            plan.app_slug
                        ),
                    ));
                }
                let mut patch = serde_json::Map::new();
                let mut changes = Vec::new();
                if p.redirect_uris != [redirect.clone()] {
                    let old: Vec<String> = p
                        .redirect_uris
                        .iter()
                        .map(|r| format!("{} ({})", r.url, r.matching_mode))
                        .collect();
                    changes.push(format!(
                        "redirect URIs [{}] -> [{} (strict)]",
                        old.join(", "),
                        redirect.url
                    ));
                    patch.insert("redirect_uris".into(), json!([redirect]));
                }
                if p.invalidation_flow.as_deref() != Some(invalidation_flow.as_str()) {
                    changes.push(format!("invalidation flow -> {}", invalidation_report.slug));
                    patch.insert("invalidation_flow".into(), json!(invalidation_flow));
                }
                if p.signing_key.is_none() {
                    changes.push(format!("signing key none -> {}", key.name));
                    patch.insert("signing_key".into(), json!(key.pk));
                }
                let missing: Vec<&String> = mappings
                    .iter()
                    .filter(|m| !p.property_mappings.contains(m))
                    .collect();
                if !missing.is_empty() {
                    changes.push("scope mappings openid, email, profile added".into());
                    let mut all = p.property_mappings.clone();
                    all.extend(missing.into_iter().cloned());
                    patch.insert("property_mappings".into(), json!(all));
                }
                if patch.is_empty() {
                    (p, SetupOutcome::Existing)
                } else {
                    let action = format!("updating OAuth2 provider {}", p.name);
                    let pk = p.pk.to_string();
                    let reply = self
                        .send(
                            Method::PATCH,
                            &["providers", "oauth2", &pk],
                            &serde_json::Value::Object(patch),
                            &action,
                        )
                        .await?;
                    let p: wire::OAuth2Provider =
                        ok(reply, StatusCode::OK, &action)?.json(&action)?;
                    (p, SetupOutcome::Updated(changes))
                }
            }
        };

        let application = self.ensure_application(plan, provider.pk).await?;
        let base = self
            .api_url()
            .strip_suffix("api/v3/")
            .unwrap_or(self.api_url())
            .to_owned();
        Ok(OidcAppReport {
            provider: provider_outcome,
            provider_pk: provider.pk,
            application,
            client_id: provider.client_id,
            client_secret: SecretString::from(provider.client_secret),
            redirect_uri: redirect.url,
            issuer: format!("{base}application/o/{}/", plan.app_slug),
            signing_key: key.name,
            invalidation_flow: invalidation_report,
            recovery_flow: recovery_report,
            brand_recovery,
            warnings,
        })
    }

    /// The UUID of the flow with `slug`.
    async fn flow(&self, slug: &str) -> Result<String, DirectoryError> {
        match self.find_flow(slug).await? {
            Some(f) => Ok(f.pk),
            None => Err(failed(
                &format!("finding flow {slug}"),
                "no such flow; Authentik creates it at installation (Flows and Stages > Flows)",
            )),
        }
    }

    /// The UUID of the scope mapping for `scope`, Authentik's own preferred.
    async fn scope_mapping(&self, scope: &str) -> Result<String, DirectoryError> {
        let action = format!("finding the scope mapping for {scope}");
        let found: Vec<wire::ScopeMapping> = self
            .list_all(
                &["propertymappings", "provider", "scope"],
                &[("scope_name", scope.to_owned())],
                None,
                &action,
            )
            .await?;
        let managed = format!("goauthentik.io/providers/oauth2/scope-{scope}");
        let mut candidates: Vec<wire::ScopeMapping> = found
            .into_iter()
            .filter(|m| m.scope_name == scope)
            .collect();
        candidates.sort_by_key(|m| m.managed.as_deref() != Some(managed.as_str()));
        candidates.into_iter().next().map(|m| m.pk).ok_or_else(|| {
            failed(
                &action,
                format!("Authentik has none (Customization > Property Mappings, scope {scope})"),
            )
        })
    }

    /// The key pair to sign tokens with.
    async fn signing_key(&self) -> Result<wire::CertificateKeyPair, DirectoryError> {
        let action = "finding a signing key";
        let mut keys: Vec<wire::CertificateKeyPair> = self
            .list_all(
                &["crypto", "certificatekeypairs"],
                &[("has_key", "true".into())],
                None,
                action,
            )
            .await?;
        let rsa = |k: &wire::CertificateKeyPair| k.key_type.as_deref().is_none_or(|t| t == "rsa");
        let pick = keys
            .iter()
            .position(|k| k.name == DEFAULT_SIGNING_KEY && rsa(k))
            .or_else(|| keys.iter().position(rsa))
            .or(if keys.is_empty() { None } else { Some(0) });
        match pick {
            Some(i) => Ok(keys.swap_remove(i)),
            None => Err(failed(
                action,
                "Authentik has no certificate with a private key; create one under System > Certificates",
            )),
        }
    }

    /// The redirect URIs registered on the OAuth2 provider with `client_id`, or `None`
    /// when Authentik has no such provider. Read-only (for diagnostics).
    pub async fn provider_redirect_uris(
        &self,
        client_id: &str,
    ) -> Result<Option<Vec<RegisteredRedirect>>, DirectoryError> {
        Ok(self.find_provider(client_id).await?.map(|p| {
            p.redirect_uris
                .into_iter()
                .map(|r| RegisteredRedirect {
                    matching_mode: r.matching_mode,
                    url: r.url,
                })
                .collect()
        }))
    }

    /// The provider with `client_id`, if any.
    async fn find_provider(
        &self,
        client_id: &str,
    ) -> Result<Option<wire::OAuth2Provider>, DirectoryError> {
        let action = format!("finding OAuth2 provider {client_id}");
        let found: Vec<wire::OAuth2Provider> = self
            .list_all(
                &["providers", "oauth2"],
                &[("client_id", client_id.to_owned())],
                None,
                &action,
            )
            .await?;
        Ok(found.into_iter().find(|p| p.client_id == client_id))
    }

    /// Finds the application with the plan's slug (attaching the provider if it has
    /// none) or creates it.
    async fn ensure_application(
        &self,
        plan: &OidcAppPlan,
        provider: i64,
    ) -> Result<SetupOutcome, DirectoryError> {
        let action = format!("finding application {}", plan.app_slug);
        // The retrieve, not the list: the list leaves out applications the token's user
        // has no access to.
        let reply = self
            .get(&["core", "applications", &plan.app_slug], &[], &action)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            let action = format!("creating application {}", plan.app_slug);
            let body = json!({
                "name": plan.app_name,
                "slug": plan.app_slug,
                "provider": provider,
                "meta_launch_url": plan.public_url.as_str(),
            });
            let reply = self
                .send(Method::POST, &["core", "applications"], &body, &action)
                .await?;
            let _: wire::Application = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
            return Ok(SetupOutcome::Created);
        }
        let app: wire::Application = ok(reply, StatusCode::OK, &action)?.json(&action)?;
        match app.provider {
            Some(p) if p == provider => Ok(SetupOutcome::Existing),
            Some(other) => Err(failed(
                &action,
                format!(
                    "application {} uses another provider (pk {other}), not {}; choose another --app-slug or change it in Authentik",
                    app.slug, plan.client_id
                ),
            )),
            None => {
                let action = format!(
                    "attaching provider {} to application {}",
                    plan.client_id, app.slug
                );
                let reply = self
                    .send(
                        Method::PATCH,
                        &["core", "applications", &app.slug],
                        &json!({ "provider": provider }),
                        &action,
                    )
                    .await?;
                ok(reply, StatusCode::OK, &action)?;
                Ok(SetupOutcome::Updated(vec![format!(
                    "provider none -> {}",
                    plan.client_id
                )]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_plan_uses_loyalty_and_a_dedicated_one_the_runbooks_names() {
        let shared = OidcAppPlan::new("https://loyalty.example.com/", None, None).unwrap();
        assert_eq!(shared.client_id, "loyalty");
        assert_eq!(shared.app_slug, "loyalty");
        assert_eq!(
            shared.redirect_uri(),
            "https://loyalty.example.com/auth/callback"
        );
        let org = OidcAppPlan::new("https://loyalty.nextdoor.com", Some("nextdoor"), None).unwrap();
        assert_eq!(org.client_id, "nextdoor-loyalty");
        assert_eq!(org.app_slug, "nextdoor-loyalty");
        assert_eq!(
            org.redirect_uri(),
            "https://loyalty.nextdoor.com/auth/callback"
        );
        let slug = OidcAppPlan::new("http://127.0.0.1:8080", None, Some("shop")).unwrap();
        assert_eq!(slug.app_slug, "shop");
    }

    #[test]
    fn bad_plans_are_refused_with_the_flag_to_fix() {
        assert!(
            OidcAppPlan::new("loyalty.example.com", None, None)
                .unwrap_err()
                .starts_with("--base-url")
        );
        assert!(
            OidcAppPlan::new("https://x.example", Some("Next Door"), None)
                .unwrap_err()
                .starts_with("--org")
        );
        assert!(
            OidcAppPlan::new("https://x.example", None, Some("a/b"))
                .unwrap_err()
                .starts_with("--app-slug")
        );
    }
}
