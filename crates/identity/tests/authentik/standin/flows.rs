//! The stand-in's flows, stages, stage bindings, prompts and brands, with Authentik's
//! shapes and error bodies: what `loyalty authentik setup` finds, makes and binds, and
//! what the browser side (`browser.rs`) runs at sign-out and for a recovery link.

use super::routes::values;
use super::{Answer, Inner, answer, detail};
use serde_json::{Value, json};
use uuid::Uuid;

/// Authentik's model name of a User Logout stage.
pub(super) const USER_LOGOUT: &str = "authentik_stages_user_logout.userlogoutstage";

/// The stage kinds served: endpoint, model, form component, verbose name.
const KINDS: [(&str, &str, &str, &str); 5] = [
    (
        "user_logout",
        USER_LOGOUT,
        "ak-stage-user-logout-form",
        "User Logout Stage",
    ),
    (
        "user_write",
        "authentik_stages_user_write.userwritestage",
        "ak-stage-user-write-form",
        "User Write Stage",
    ),
    (
        "user_login",
        "authentik_stages_user_login.userloginstage",
        "ak-stage-user-login-form",
        "User Login Stage",
    ),
    (
        "prompt",
        "authentik_stages_prompt.promptstage",
        "ak-stage-prompt-form",
        "Prompt Stage",
    ),
    (
        "password",
        "authentik_stages_password.passwordstage",
        "ak-stage-password-form",
        "Password Stage",
    ),
];

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A flow as Authentik shows it.
pub(super) fn flow(
    slug: &str,
    name: &str,
    title: &str,
    designation: &str,
    authentication: &str,
) -> Value {
    let pk = Uuid::new_v4();
    json!({
        "pk": pk, "policybindingmodel_ptr_id": pk, "name": name, "slug": slug,
        "title": title, "designation": designation, "background": "",
        "background_url": "/static/dist/assets/images/flow_background.jpg",
        "background_themed_urls": null, "stages": [], "policies": [], "cache_count": 0,
        "policy_engine_mode": "any", "compatibility_mode": false,
        "export_url": format!("/api/v3/flows/instances/{slug}/export/"),
        "layout": "stacked", "denied_action": "message_continue",
        "authentication": authentication,
    })
}

/// The brand every Authentik has from installation.
pub(super) fn default_brand() -> Value {
    json!({
        "brand_uuid": Uuid::new_v4(), "domain": "authentik-default", "default": true,
        "branding_title": "authentik",
        "branding_logo": "/static/dist/assets/icons/icon_left_brand.svg",
        "branding_favicon": "/static/dist/assets/icons/icon.png",
        "branding_custom_css": "", "branding_default_flow_background": "/static/dist/assets/images/flow_background.jpg",
        "flow_authentication": null, "flow_invalidation": null, "flow_recovery": null,
        "flow_unenrollment": null, "flow_user_settings": null, "flow_device_code": null,
        "default_application": null, "web_certificate": null, "client_certificates": [],
        "attributes": {},
    })
}

impl Inner {
    /// Adds a stage of `kind` (an endpoint name of `KINDS`) named `name`; its key.
    pub(super) fn add_stage(&mut self, kind: &str, name: &str, extra: &Value) -> Option<Value> {
        let (_, model, component, verbose) = KINDS.iter().find(|k| k.0 == kind)?;
        let mut stage = json!({
            "pk": Uuid::new_v4(), "name": name, "component": component,
            "verbose_name": verbose, "verbose_name_plural": format!("{verbose}s"),
            "meta_model_name": model, "flow_set": [],
        });
        if let (Some(target), Some(fields)) = (stage.as_object_mut(), extra.as_object()) {
            for (k, v) in fields {
                if k != "name" {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
        self.stages.push(stage.clone());
        Some(stage)
    }

    /// Binds the stage `stage` to the flow `target` at `order`.
    pub(super) fn add_binding(&mut self, target: &Value, stage: &Value, order: i64) -> Value {
        let pk = Uuid::new_v4();
        let binding = json!({
            "pk": pk, "policybindingmodel_ptr_id": pk, "target": target, "stage": stage,
            "evaluate_on_plan": true, "re_evaluate_policies": false, "order": order,
            "policy_engine_mode": "any", "invalid_response_action": "retry",
        });
        self.bindings.push(binding.clone());
        binding
    }

    fn binding_json(&self, b: &Value) -> Value {
        let mut out = b.clone();
        out["stage_obj"] =
            self.stages
                .iter()
                .find(|s| s["pk"] == b["stage"])
                .map_or(Value::Null, |s| {
                    let keep = [
                        "pk",
                        "name",
                        "component",
                        "verbose_name",
                        "verbose_name_plural",
                        "meta_model_name",
                        "flow_set",
                    ];
                    Value::Object(
                        keep.iter()
                            .map(|k| ((*k).to_owned(), s[*k].clone()))
                            .collect(),
                    )
                });
        out
    }

    /// The model names of the stages bound to the flow with key `flow`, in order.
    pub(super) fn flow_stage_models(&self, flow: &Value) -> Vec<String> {
        let mut bound: Vec<&Value> = self
            .bindings
            .iter()
            .filter(|b| &b["target"] == flow)
            .collect();
        bound.sort_by_key(|b| b["order"].as_i64().unwrap_or_default());
        bound
            .iter()
            .filter_map(|b| self.stages.iter().find(|s| s["pk"] == b["stage"]))
            .map(|s| text(s, "meta_model_name").to_owned())
            .collect()
    }

    /// The flow with key `pk`.
    pub(super) fn flow_by_pk(&self, pk: &Value) -> Option<&Value> {
        self.flows.iter().find(|f| &f["pk"] == pk)
    }

    /// The brand that answers the API's address (the default one here).
    pub(super) fn brand_index(&self) -> usize {
        self.brands
            .iter()
            .position(|b| b["default"] == true)
            .unwrap_or(0)
    }

    fn current_brand(&self) -> Value {
        let brand = &self.brands[self.brand_index()];
        let mut out = json!({
            "matched_domain": brand["domain"], "branding_title": brand["branding_title"],
            "branding_logo": brand["branding_logo"], "branding_logo_themed_urls": null,
            "branding_favicon": brand["branding_favicon"], "branding_favicon_themed_urls": null,
            "branding_custom_css": "", "ui_footer_links": [], "ui_theme": "automatic",
            "default_locale": "",
            "flags": {
                "enterprise_audit_include_expanded_diff": false,
                "policies_buffered_access_view": false,
                "flows_continuous_login": false,
                "flows_refresh_others": false,
            },
        });
        // Flows by slug; a flow not set is left out (Authentik's CharField with
        // source="flow_*.slug", required=False).
        for field in [
            "flow_authentication",
            "flow_invalidation",
            "flow_recovery",
            "flow_unenrollment",
            "flow_user_settings",
            "flow_device_code",
        ] {
            if let Some(f) = self.flow_by_pk(&brand[field]) {
                out[field] = f["slug"].clone();
            }
        }
        out
    }

    fn prompt_json(p: &Value) -> Value {
        let mut out = p.clone();
        out["prompt_stages_obj"] = json!([]);
        out
    }
}

pub(super) fn route(
    st: &mut Inner,
    method: &str,
    segments: &[&str],
    query: &[(String, String)],
    body: &Value,
) -> Answer {
    match (method, segments) {
        ("GET", ["flows", "instances"]) => {
            if st.unsupported(query, &["slug", "flow_uuid", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let slugs = values(query, "slug");
            let pks = values(query, "flow_uuid");
            let items = st
                .flows
                .iter()
                .filter(|f| slugs.iter().all(|s| text(f, "slug") == *s))
                .filter(|f| pks.iter().all(|p| text(f, "pk") == *p))
                .cloned()
                .collect();
            st.page(query, items)
        }
        ("POST", ["flows", "instances"]) => {
            let slug = text(body, "slug");
            if st.flows.iter().any(|f| text(f, "slug") == slug) {
                return answer(
                    400,
                    json!({"slug": ["Flow with this Slug already exists."]}),
                );
            }
            let f = flow(
                slug,
                text(body, "name"),
                text(body, "title"),
                text(body, "designation"),
                body.get("authentication")
                    .and_then(Value::as_str)
                    .unwrap_or("none"),
            );
            st.flows.push(f.clone());
            answer(201, f)
        }
        ("GET", ["flows", "bindings"]) => {
            if st.unsupported(query, &["target", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let targets = values(query, "target");
            let mut items: Vec<Value> = st
                .bindings
                .iter()
                .filter(|b| targets.iter().all(|t| text(b, "target") == *t))
                .map(|b| st.binding_json(b))
                .collect();
            items.sort_by_key(|b| b["order"].as_i64().unwrap_or_default());
            st.page(query, items)
        }
        ("POST", ["flows", "bindings"]) => {
            let (target, stage) = (body["target"].clone(), body["stage"].clone());
            if st.flow_by_pk(&target).is_none() {
                return answer(
                    400,
                    json!({"target": [format!("Invalid pk \"{}\" - object does not exist.", text(body, "target"))]}),
                );
            }
            if !st.stages.iter().any(|s| s["pk"] == stage) {
                return answer(
                    400,
                    json!({"stage": [format!("Invalid pk \"{}\" - object does not exist.", text(body, "stage"))]}),
                );
            }
            let order = body["order"].as_i64().unwrap_or_default();
            if st
                .bindings
                .iter()
                .any(|b| b["target"] == target && b["stage"] == stage && b["order"] == order)
            {
                return answer(
                    400,
                    json!({"non_field_errors": ["The fields target, stage, order must make a unique set."]}),
                );
            }
            let b = st.add_binding(&target, &stage, order);
            answer(201, st.binding_json(&b))
        }
        ("GET", ["stages", "prompt", "prompts"]) => {
            if st.unsupported(query, &["name", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let names = values(query, "name");
            let items = st
                .prompts
                .iter()
                .filter(|p| names.iter().all(|n| text(p, "name") == *n))
                .map(Inner::prompt_json)
                .collect();
            st.page(query, items)
        }
        ("POST", ["stages", "prompt", "prompts"]) => {
            if st
                .prompts
                .iter()
                .any(|p| text(p, "name") == text(body, "name"))
            {
                return answer(
                    400,
                    json!({"name": ["prompt with this name already exists."]}),
                );
            }
            let mut p = json!({
                "pk": Uuid::new_v4(), "required": true, "placeholder": "", "initial_value": "",
                "order": 0, "sub_text": "", "placeholder_expression": false,
                "initial_value_expression": false,
            });
            for k in [
                "name",
                "field_key",
                "label",
                "type",
                "required",
                "placeholder",
                "order",
            ] {
                if let Some(v) = body.get(k) {
                    p[k] = v.clone();
                }
            }
            st.prompts.push(p.clone());
            answer(201, Inner::prompt_json(&p))
        }
        ("GET", ["stages", kind, rest @ ..]) if rest.is_empty() || rest == ["stages"] => {
            if st.unsupported(query, &["name", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let Some((_, model, ..)) = KINDS.iter().find(|k| k.0 == *kind) else {
                return detail(405, "Not served by the stand-in.");
            };
            let names = values(query, "name");
            let items = st
                .stages
                .iter()
                .filter(|s| text(s, "meta_model_name") == *model)
                .filter(|s| names.iter().all(|n| text(s, "name") == *n))
                .cloned()
                .collect();
            st.page(query, items)
        }
        ("POST", ["stages", kind, rest @ ..]) if rest.is_empty() || rest == ["stages"] => {
            // Stage names are unique across every kind.
            if st
                .stages
                .iter()
                .any(|s| text(s, "name") == text(body, "name"))
            {
                return answer(
                    400,
                    json!({"name": ["stage with this name already exists."]}),
                );
            }
            let extra = match *kind {
                "user_write" => json!({
                    "user_creation_mode": body.get("user_creation_mode").cloned().unwrap_or(json!("create_when_required")),
                    "create_users_as_inactive": false, "create_users_group": null,
                    "user_type": "external", "user_path_template": "",
                }),
                "user_login" => json!({
                    "session_duration": "seconds=0", "terminate_other_sessions": false,
                    "remember_me_offset": "seconds=0", "network_binding": "no_binding",
                    "geoip_binding": "no_binding", "remember_device": "days=30",
                }),
                "prompt" => {
                    let fields = body.get("fields").cloned().unwrap_or(json!([]));
                    let known = fields.as_array().is_some_and(|f| {
                        f.iter().all(|pk| st.prompts.iter().any(|p| &p["pk"] == pk))
                    });
                    if !known {
                        return answer(
                            400,
                            json!({"fields": ["Invalid pk - object does not exist."]}),
                        );
                    }
                    json!({ "fields": fields, "validation_policies": [] })
                }
                _ => json!({}),
            };
            match st.add_stage(kind, text(body, "name"), &extra) {
                Some(s) => answer(201, s),
                None => detail(405, "Not served by the stand-in."),
            }
        }
        ("GET", ["core", "brands", "current"]) => Answer {
            status: 200,
            body: Some(st.current_brand()),
            exempt: Some(
                "the schemas disagree on `flags` (2025.12.4 lists two, 2026.2 requires four), so no answer passes both",
            ),
        },
        ("GET", ["core", "brands"]) => {
            if st.unsupported(query, &["domain", "page", "page_size"]) {
                return detail(400, "unsupported filter");
            }
            let domains = values(query, "domain");
            let items = st
                .brands
                .iter()
                .filter(|b| domains.iter().all(|d| text(b, "domain") == *d))
                .cloned()
                .collect();
            st.page(query, items)
        }
        ("PATCH", ["core", "brands", id]) => {
            let Some(i) = st.brands.iter().position(|b| text(b, "brand_uuid") == *id) else {
                return detail(404, "No Brand matches the given query.");
            };
            if let Some(flow) = body.get("flow_recovery")
                && !flow.is_null()
                && st.flow_by_pk(flow).is_none()
            {
                return answer(
                    400,
                    json!({"flow_recovery": [format!("Invalid pk \"{}\" - object does not exist.", text(body, "flow_recovery"))]}),
                );
            }
            if let (Some(target), Some(fields)) = (st.brands[i].as_object_mut(), body.as_object()) {
                for (k, v) in fields {
                    target.insert(k.clone(), v.clone());
                }
            }
            answer(200, st.brands[i].clone())
        }
        _ => {
            st.violations.push(format!(
                "{method} /{}/: in the schema, but the stand-in does not serve it",
                segments.join("/")
            ));
            detail(405, "Not served by the stand-in.")
        }
    }
}
