//! The stand-in's endpoints for setting up loyalty as an OpenID application: scope
//! mappings and key pairs (read only, seeded as a fresh Authentik has them, with its
//! flows and brand: see `flows.rs`),
//! OAuth2 providers and applications (created, read and patched), with Authentik's
//! shapes and error bodies.

use super::routes::values;
use super::{Answer, Inner, answer, detail};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The seed of a fresh Authentik: its default provider flows, scope mappings and
/// self-signed certificate (plus one certificate without a key, which must be skipped).
pub(super) fn seed(st: &mut Inner) {
    for (slug, designation, title) in [
        (
            "default-provider-authorization-implicit-consent",
            "authorization",
            "Redirecting to %(app)s",
        ),
        (
            "default-provider-authorization-explicit-consent",
            "authorization",
            "Redirecting to %(app)s",
        ),
        (
            "default-provider-invalidation-flow",
            "invalidation",
            "Default Provider Invalidation Flow",
        ),
        (
            "default-authentication-flow",
            "authentication",
            "Welcome to authentik!",
        ),
    ] {
        st.flows
            .push(super::flows::flow(slug, title, title, designation, "none"));
    }
    // Authentik's own sign-out flow for the brand, with its User Logout stage.
    let invalidation = super::flows::flow(
        "default-invalidation-flow",
        "Logout",
        "Default Invalidation Flow",
        "invalidation",
        "none",
    );
    st.flows.push(invalidation.clone());
    if let Some(stage) = st.add_stage("user_logout", "default-invalidation-logout", &json!({})) {
        st.add_binding(&invalidation["pk"], &stage["pk"], 0);
    }
    // A recovery flow as imported from Authentik's example (identification, email...);
    // the brand uses it while the stand-in's recovery is `Recovery::Flow`.
    let recovery = super::flows::flow(
        "default-recovery-flow",
        "Default recovery flow",
        "Reset your password",
        "recovery",
        "require_unauthenticated",
    );
    st.flows.push(recovery.clone());
    let mut brand = super::flows::default_brand();
    for (field, slug) in [
        ("flow_authentication", "default-authentication-flow"),
        ("flow_invalidation", "default-invalidation-flow"),
    ] {
        brand[field] = st
            .flows
            .iter()
            .find(|f| f["slug"] == slug)
            .map_or(Value::Null, |f| f["pk"].clone());
    }
    brand["flow_recovery"] = recovery["pk"].clone();
    st.brands.push(brand);
    for scope in ["openid", "email", "profile", "offline_access"] {
        st.scope_mappings.push(scope_mapping(
            scope,
            &format!("authentik default OAuth Mapping: OpenID '{scope}'"),
            Some(format!("goauthentik.io/providers/oauth2/scope-{scope}")),
        ));
    }
    st.keypairs.push(keypair(
        "authentik Self-signed Certificate",
        true,
        Some("rsa"),
    ));
    st.keypairs
        .push(keypair("imported CA (no key)", false, Some("rsa")));
}

/// A scope mapping as Authentik shows it.
pub(super) fn scope_mapping(scope: &str, name: &str, managed: Option<String>) -> Value {
    json!({
        "pk": Uuid::new_v4(), "managed": managed, "name": name,
        "expression": "return {}", "component": "ak-property-mapping-provider-scope-form",
        "verbose_name": "Scope Mapping", "verbose_name_plural": "Scope Mappings",
        "meta_model_name": "authentik_providers_oauth2.scopemapping",
        "scope_name": scope, "description": "",
    })
}

/// A certificate-key pair as Authentik shows it.
pub(super) fn keypair(name: &str, has_key: bool, key_type: Option<&str>) -> Value {
    let pk = Uuid::new_v4();
    json!({
        "pk": pk, "name": name, "fingerprint_sha256": "ab:cd", "fingerprint_sha1": "ab:cd",
        "cert_expiry": "2027-11-23T22:34:37Z", "cert_subject": format!("CN={name}"),
        "private_key_available": has_key, "key_type": key_type,
        "certificate_download_url": format!("/api/v3/crypto/certificatekeypairs/{pk}/view_certificate/?download"),
        "private_key_download_url": format!("/api/v3/crypto/certificatekeypairs/{pk}/view_private_key/?download"),
        "managed": null,
    })
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn route(
    st: &mut Inner,
    method: &str,
    segments: &[&str],
    query: &[(String, String)],
    body: &Value,
) -> Answer {
    match (method, segments) {
        ("GET", ["propertymappings", "provider", "scope"]) => {
            if st.unsupported(query, &["scope_name", "managed", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let scopes = values(query, "scope_name");
            let managed = values(query, "managed");
            let items = st
                .scope_mappings
                .iter()
                .filter(|m| scopes.iter().all(|s| text(m, "scope_name") == *s))
                .filter(|m| managed.is_empty() || managed.contains(&text(m, "managed")))
                .cloned()
                .collect();
            st.page(query, items)
        }
        ("GET", ["crypto", "certificatekeypairs"]) => {
            if st.unsupported(query, &["has_key", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let has_key = values(query, "has_key");
            let items = st
                .keypairs
                .iter()
                .filter(|k| {
                    has_key
                        .iter()
                        .all(|h| k["private_key_available"].as_bool() == Some(*h == "true"))
                })
                .cloned()
                .collect();
            st.page(query, items)
        }
        ("GET", ["providers", "oauth2"]) => {
            if st.unsupported(query, &["client_id", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let ids = values(query, "client_id");
            let items = st
                .providers
                .iter()
                .filter(|p| ids.iter().all(|i| text(p, "client_id") == *i))
                .map(|p| st.provider_json(p))
                .collect();
            st.page(query, items)
        }
        ("POST", ["providers", "oauth2"]) => st.create_provider(body),
        ("GET", ["providers", "oauth2", id]) => match st.provider_index(id) {
            Some(i) => answer(200, st.provider_json(&st.providers[i])),
            None => detail(404, "No OAuth2/OpenID Provider matches the given query."),
        },
        ("PATCH", ["providers", "oauth2", id]) => st.patch_provider(id, body),
        ("GET", ["core", "applications", slug]) => match st.application_index(slug) {
            Some(i) => answer(200, st.application_json(&st.applications[i])),
            None => detail(404, "No Application matches the given query."),
        },
        ("POST", ["core", "applications"]) => st.create_application(body),
        ("PATCH", ["core", "applications", slug]) => st.patch_application(slug, body),
        _ => {
            st.violations.push(format!(
                "{method} /{}/: in the schema, but the stand-in does not serve it",
                segments.join("/")
            ));
            detail(405, "Not served by the stand-in.")
        }
    }
}

impl Inner {
    fn provider_index(&self, id: &str) -> Option<usize> {
        let pk: i64 = id.parse().ok()?;
        self.providers.iter().position(|p| p["pk"] == json!(pk))
    }

    fn application_index(&self, slug: &str) -> Option<usize> {
        self.applications
            .iter()
            .position(|a| text(a, "slug") == slug)
    }

    fn app_of(&self, provider_pk: &Value) -> Option<&Value> {
        self.applications
            .iter()
            .find(|a| &a["provider"] == provider_pk)
    }

    /// A provider with the fields Authentik computes.
    pub(super) fn provider_json(&self, p: &Value) -> Value {
        let mut out = p.clone();
        let app = self.app_of(&p["pk"]);
        out["assigned_application_slug"] = app.map_or(Value::Null, |a| a["slug"].clone());
        out["assigned_application_name"] = app.map_or(Value::Null, |a| a["name"].clone());
        out
    }

    /// The `Provider` shape of a provider, as inside an application.
    fn provider_obj(&self, p: &Value) -> Value {
        let full = self.provider_json(p);
        let keep = [
            "pk",
            "name",
            "authentication_flow",
            "authorization_flow",
            "invalidation_flow",
            "property_mappings",
            "component",
            "assigned_application_slug",
            "assigned_application_name",
            "assigned_backchannel_application_slug",
            "assigned_backchannel_application_name",
            "verbose_name",
            "verbose_name_plural",
            "meta_model_name",
        ];
        let map: Map<String, Value> = keep
            .iter()
            .map(|k| ((*k).to_owned(), full[*k].clone()))
            .collect();
        Value::Object(map)
    }

    pub(super) fn application_json(&self, a: &Value) -> Value {
        let mut out = a.clone();
        out["provider_obj"] = self
            .providers
            .iter()
            .find(|p| p["pk"] == a["provider"])
            .map_or(Value::Null, |p| self.provider_obj(p));
        let launch = text(a, "meta_launch_url");
        out["launch_url"] = if launch.is_empty() {
            Value::Null
        } else {
            json!(launch)
        };
        out
    }

    /// The flow reference errors Authentik gives for unknown flow UUIDs.
    fn check_flows(&self, body: &Value) -> Option<Answer> {
        for field in ["authorization_flow", "invalidation_flow"] {
            if let Some(v) = body.get(field).and_then(Value::as_str)
                && !self.flows.iter().any(|f| text(f, "pk") == v)
            {
                return Some(answer(
                    400,
                    json!({ field: [format!("Invalid pk \"{v}\" - object does not exist.")] }),
                ));
            }
        }
        if let Some(v) = body.get("signing_key").and_then(Value::as_str)
            && !self.keypairs.iter().any(|k| text(k, "pk") == v)
        {
            return Some(answer(
                400,
                json!({ "signing_key": [format!("Invalid pk \"{v}\" - object does not exist.")] }),
            ));
        }
        None
    }

    fn create_provider(&mut self, body: &Value) -> Answer {
        if let Some(refused) = self.check_flows(body) {
            return refused;
        }
        let client_id = body
            .get("client_id")
            .and_then(Value::as_str)
            .map_or_else(|| Uuid::new_v4().simple().to_string(), str::to_owned);
        if self
            .providers
            .iter()
            .any(|p| text(p, "client_id") == client_id)
        {
            return answer(
                400,
                json!({"client_id": ["OAuth2/OpenID Provider with this Client ID already exists."]}),
            );
        }
        let pk = self.next_provider_pk;
        self.next_provider_pk += 1;
        // Authentik generates a 128-character secret when none is given.
        let secret = format!(
            "{}{}{}{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        );
        let get = |k: &str, default: Value| body.get(k).cloned().unwrap_or(default);
        let provider = json!({
            "pk": pk,
            "name": body["name"],
            "authentication_flow": get("authentication_flow", Value::Null),
            "authorization_flow": body["authorization_flow"],
            "invalidation_flow": body["invalidation_flow"],
            "property_mappings": get("property_mappings", json!([])),
            "component": "ak-provider-oauth2-form",
            "assigned_backchannel_application_slug": null,
            "assigned_backchannel_application_name": null,
            "verbose_name": "OAuth2/OpenID Provider",
            "verbose_name_plural": "OAuth2/OpenID Providers",
            "meta_model_name": "authentik_providers_oauth2.oauth2provider",
            "client_type": get("client_type", json!("confidential")),
            "client_id": client_id,
            "client_secret": get("client_secret", json!(secret)),
            "access_code_validity": "minutes=1",
            "access_token_validity": "hours=1",
            "refresh_token_validity": "days=30",
            "refresh_token_threshold": "seconds=0",
            "include_claims_in_id_token": get("include_claims_in_id_token", json!(true)),
            "signing_key": get("signing_key", Value::Null),
            "encryption_key": null,
            "redirect_uris": get("redirect_uris", json!([])),
            "logout_uri": "",
            "logout_method": "backchannel",
            "sub_mode": get("sub_mode", json!("hashed_user_id")),
            "issuer_mode": get("issuer_mode", json!("per_provider")),
            "jwt_federation_sources": [],
            "jwt_federation_providers": [],
        });
        let out = self.provider_json(&provider);
        self.providers.push(provider);
        answer(201, out)
    }

    fn patch_provider(&mut self, id: &str, body: &Value) -> Answer {
        let Some(i) = self.provider_index(id) else {
            return detail(404, "No OAuth2/OpenID Provider matches the given query.");
        };
        if let Some(refused) = self.check_flows(body) {
            return refused;
        }
        if let (Some(target), Some(fields)) = (self.providers[i].as_object_mut(), body.as_object())
        {
            for (k, v) in fields {
                target.insert(k.clone(), v.clone());
            }
        }
        answer(200, self.provider_json(&self.providers[i]))
    }

    fn create_application(&mut self, body: &Value) -> Answer {
        let slug = text(body, "slug").to_owned();
        if self.application_index(&slug).is_some() {
            return answer(
                400,
                json!({"slug": ["Application with this slug already exists."]}),
            );
        }
        let provider = body.get("provider").cloned().unwrap_or(Value::Null);
        if !provider.is_null() {
            if !self.providers.iter().any(|p| p["pk"] == provider) {
                return answer(
                    400,
                    json!({"provider": [format!("Invalid pk \"{provider}\" - object does not exist.")]}),
                );
            }
            if self.app_of(&provider).is_some() {
                return answer(
                    400,
                    json!({"provider": ["Application with this provider already exists."]}),
                );
            }
        }
        let app = json!({
            "pk": Uuid::new_v4(),
            "name": body["name"],
            "slug": slug,
            "provider": provider,
            "backchannel_providers": [],
            "backchannel_providers_obj": [],
            "open_in_new_tab": false,
            "meta_launch_url": body.get("meta_launch_url").cloned().unwrap_or(json!("")),
            "meta_icon": "",
            "meta_icon_url": null,
            "meta_icon_themed_urls": null,
            "meta_description": "",
            "meta_publisher": "",
            "policy_engine_mode": "any",
            "group": "",
        });
        let out = self.application_json(&app);
        self.applications.push(app);
        answer(201, out)
    }

    fn patch_application(&mut self, slug: &str, body: &Value) -> Answer {
        let Some(i) = self.application_index(slug) else {
            return detail(404, "No Application matches the given query.");
        };
        if let (Some(target), Some(fields)) =
            (self.applications[i].as_object_mut(), body.as_object())
        {
            for (k, v) in fields {
                target.insert(k.clone(), v.clone());
            }
        }
        answer(200, self.application_json(&self.applications[i]))
    }
}
