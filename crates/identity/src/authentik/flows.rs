//! The flows `loyalty authentik setup` makes so that Authentik does what loyalty needs,
//! found or created by slug and repaired when a stage is missing:
//!
//! - the **invalidation flow** of the provider, `loyalty-invalidation-flow`, with a User
//!   Logout stage: signing out of loyalty ends the Authentik session too, so the next
//!   "Sign in" on a shared till asks for a password again. (Authentik's
//!   `default-provider-invalidation-flow` only says "You've logged out" and keeps the
//!   session.)
//! - the **recovery flow** for one-time links issued through the API,
//!   `loyalty-recovery-flow`: password prompt -> user write -> user login. Authentik's
//!   example recovery flow asks for the username again and sends mail, which a link
//!   handed over by an operator does not need. It is set on the brand when the brand has
//!   none; an existing one is replaced only when asked.
//!
//! Calls (paths under `/api/v3`, the same in the 2025.12 and 2026.2 schemas):
//! `GET/POST /flows/instances/`, `GET/POST /flows/bindings/` (`target=` the flow),
//! `GET/POST /stages/{user_logout,user_write,user_login,prompt/stages,prompt/prompts}/`
//! (`name=`), `GET /core/brands/current/`, `GET /core/brands/?domain=`, `PATCH
//! /core/brands/{uuid}/`.

use super::api::failed;
use super::setup::SetupOutcome;
use super::{AuthentikDirectory, ok, wire};
use loyalty_core::directory::DirectoryError;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The invalidation flow setup makes and gives the provider.
pub const LOYALTY_INVALIDATION_FLOW: &str = "loyalty-invalidation-flow";
/// The recovery flow setup makes for one-time links.
pub const LOYALTY_RECOVERY_FLOW: &str = "loyalty-recovery-flow";
/// Authentik's model name of a User Logout stage.
pub const USER_LOGOUT_STAGE: &str = "authentik_stages_user_logout.userlogoutstage";
const PROMPT_STAGE: &str = "authentik_stages_prompt.promptstage";
const USER_WRITE_STAGE: &str = "authentik_stages_user_write.userwritestage";
const USER_LOGIN_STAGE: &str = "authentik_stages_user_login.userloginstage";

/// What setup found or made of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowReport {
    /// The flow's slug.
    pub slug: String,
    /// Made, found as needed, or repaired (with what was added).
    pub outcome: SetupOutcome,
}

/// What happened to the brand's recovery flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrandRecovery {
    /// The brand had none; loyalty's is set now.
    Set {
        /// The brand's domain.
        domain: String,
    },
    /// The brand uses loyalty's already.
    Existing {
        /// The brand's domain.
        domain: String,
    },
    /// The brand has another recovery flow, which was kept.
    Kept {
        /// The brand's domain.
        domain: String,
        /// The other flow's slug (or key when it cannot be read).
        flow: String,
    },
    /// The brand's other recovery flow was replaced by loyalty's, as asked.
    Replaced {
        /// The brand's domain.
        domain: String,
        /// The replaced flow's slug (or key).
        previous: String,
    },
}

/// One stage a flow must hold: its kind, the name setup gives it, where it goes.
struct Needed {
    model: &'static str,
    endpoint: &'static [&'static str],
    name: &'static str,
    order: i64,
    label: &'static str,
}

const LOGOUT: Needed = Needed {
    model: USER_LOGOUT_STAGE,
    endpoint: &["stages", "user_logout"],
    name: "loyalty-logout",
    order: 10,
    label: "User Logout stage",
};

const RECOVERY_STAGES: [Needed; 3] = [
    Needed {
        model: PROMPT_STAGE,
        endpoint: &["stages", "prompt", "stages"],
        name: "loyalty-recovery-password",
        order: 10,
        label: "password prompt",
    },
    Needed {
        model: USER_WRITE_STAGE,
        endpoint: &["stages", "user_write"],
        name: "loyalty-recovery-user-write",
        order: 20,
        label: "user write",
    },
    Needed {
        model: USER_LOGIN_STAGE,
        endpoint: &["stages", "user_login"],
        name: "loyalty-recovery-user-login",
        order: 30,
        label: "user login",
    },
];

impl AuthentikDirectory {
    /// The invalidation flow with `slug` for the provider, and what was done to it.
    /// loyalty's own flow is made when missing and given a User Logout stage when it
    /// has none; another flow is used as it is, and `warning` says when it keeps the
    /// Authentik session.
    pub(super) async fn invalidation_flow(
        &self,
        slug: &str,
    ) -> Result<(String, FlowReport, Option<String>), DirectoryError> {
        let ours = slug == LOYALTY_INVALIDATION_FLOW;
        let (flow, created) = match self.find_flow(slug).await? {
            Some(f) => (f, false),
            None if ours => (
                self.create_flow(
                    slug,
                    "loyalty sign-out",
                    "You are signed out",
                    "invalidation",
                    "none",
                )
                .await?,
                true,
            ),
            None => {
                return Err(failed(
                    &format!("finding flow {slug}"),
                    format!(
                        "no such flow; create it in Authentik (Flows and Stages > Flows), or leave out --invalidation-flow to use {LOYALTY_INVALIDATION_FLOW}, which setup makes"
                    ),
                ));
            }
        };
        let bindings = self.bindings(&flow.pk).await?;
        let logs_out = bindings
            .iter()
            .any(|b| b.stage_obj.meta_model_name.as_deref() == Some(USER_LOGOUT_STAGE));
        let mut added = Vec::new();
        let mut warning = None;
        if !logs_out {
            if ours {
                self.bind(&flow, &LOGOUT).await?;
                added.push(format!("{} bound", LOGOUT.label));
            } else {
                warning = Some(format!(
                    "the invalidation flow {slug} has no User Logout stage: signing out of loyalty leaves the Authentik session open, so the next sign-in on the same browser asks for no password; bind a User Logout stage to it, or run setup without --invalidation-flow"
                ));
            }
        }
        let outcome = outcome(created, added);
        let report = FlowReport {
            slug: flow.slug.clone(),
            outcome,
        };
        Ok((flow.pk, report, warning))
    }

    /// The recovery flow for one-time links with `slug`: loyalty's (password prompt ->
    /// user write -> user login) is made when missing and completed when a stage is
    /// missing; another is used as it is, and `warning` says which stage it lacks.
    pub(super) async fn recovery_flow(
        &self,
        slug: &str,
    ) -> Result<(String, FlowReport, Option<String>), DirectoryError> {
        let ours = slug == LOYALTY_RECOVERY_FLOW;
        let (flow, created) = match self.find_flow(slug).await? {
            Some(f) => {
                if f.designation.as_deref().is_some_and(|d| d != "recovery") {
                    return Err(failed(
                        &format!("checking flow {slug}"),
                        format!(
                            "it is a flow for {}, not recovery; rename or delete it in Authentik (Flows and Stages > Flows), then run setup again",
                            f.designation.as_deref().unwrap_or("?")
                        ),
                    ));
                }
                (f, false)
            }
            None if !ours => {
                return Err(failed(
                    &format!("finding flow {slug}"),
                    format!(
                        "no such flow; create it in Authentik (Flows and Stages > Flows), or leave out --recovery-flow to use {LOYALTY_RECOVERY_FLOW}, which setup makes"
                    ),
                ));
            }
            None => (
                self.create_flow(
                    slug,
                    "loyalty password link",
                    "Choose your password",
                    "recovery",
                    "require_unauthenticated",
                )
                .await?,
                true,
            ),
        };
        let bindings = self.bindings(&flow.pk).await?;
        let mut added = Vec::new();
        let mut lacking = Vec::new();
        for needed in &RECOVERY_STAGES {
            let bound = bindings
                .iter()
                .any(|b| b.stage_obj.meta_model_name.as_deref() == Some(needed.model));
            if bound {
                continue;
            }
            if ours {
                self.bind(&flow, needed).await?;
                added.push(format!("{} stage bound", needed.label));
            } else {
                lacking.push(needed.label);
            }
        }
        let warning = (!lacking.is_empty()).then(|| {
            format!(
                "the recovery flow {slug} has no {} stage: a one-time link through it may not let the person set a password; run setup without --recovery-flow to use {LOYALTY_RECOVERY_FLOW}",
                lacking.join(", no ")
            )
        });
        let report = FlowReport {
            slug: flow.slug.clone(),
            outcome: outcome(created, added),
        };
        Ok((flow.pk, report, warning))
    }

    /// Sets the recovery flow (`flow_pk`, `flow_slug`) on the brand that answers this
    /// API's address when it has none (or has another one and `replace`).
    pub(super) async fn brand_recovery(
        &self,
        flow_pk: &str,
        flow_slug: &str,
        replace: bool,
    ) -> Result<BrandRecovery, DirectoryError> {
        // The current brand names its flows by slug, and leaves out the ones not set.
        let current = self.current_brand().await?;
        let domain = current.matched_domain.clone();
        let previous = current.flow_recovery.filter(|s| !s.is_empty());
        match &previous {
            Some(slug) if slug == flow_slug => return Ok(BrandRecovery::Existing { domain }),
            Some(slug) if !replace => {
                return Ok(BrandRecovery::Kept {
                    domain,
                    flow: slug.clone(),
                });
            }
            _ => {}
        }
        let action = format!("finding brand {domain}");
        let brands: Vec<wire::Brand> = self
            .list_all(
                &["core", "brands"],
                &[("domain", domain.clone())],
                None,
                &action,
            )
            .await?;
        let brand = brands
            .into_iter()
            .find(|b| b.domain == domain)
            .ok_or_else(|| failed(&action, "Authentik lists no brand with that domain"))?;
        let action = format!("setting the recovery flow of brand {domain}");
        let reply = self
            .send(
                Method::PATCH,
                &["core", "brands", &brand.brand_uuid],
                &json!({ "flow_recovery": flow_pk }),
                &action,
            )
            .await?;
        let _: wire::Brand = ok(reply, StatusCode::OK, &action)?.json(&action)?;
        Ok(match previous {
            Some(previous) => BrandRecovery::Replaced { domain, previous },
            None => BrandRecovery::Set { domain },
        })
    }

    /// Whether the brand answering this API's address has a recovery flow, without which
    /// Authentik issues no one-time links.
    pub async fn has_recovery_flow(&self) -> Result<bool, DirectoryError> {
        Ok(self
            .current_brand()
            .await?
            .flow_recovery
            .is_some_and(|s| !s.is_empty()))
    }

    async fn current_brand(&self) -> Result<wire::CurrentBrand, DirectoryError> {
        let action = "reading the brand";
        let reply = self
            .get(&["core", "brands", "current"], &[], action)
            .await?;
        ok(reply, StatusCode::OK, action)?.json(action)
    }

    /// The flow with `slug`, if any.
    pub(super) async fn find_flow(&self, slug: &str) -> Result<Option<wire::Flow>, DirectoryError> {
        let action = format!("finding flow {slug}");
        let flows: Vec<wire::Flow> = self
            .list_all(
                &["flows", "instances"],
                &[("slug", slug.to_owned())],
                None,
                &action,
            )
            .await?;
        Ok(flows.into_iter().find(|f| f.slug == slug))
    }

    async fn create_flow(
        &self,
        slug: &str,
        name: &str,
        title: &str,
        designation: &str,
        authentication: &str,
    ) -> Result<wire::Flow, DirectoryError> {
        let action = format!("creating flow {slug}");
        let body = json!({
            "name": name,
            "slug": slug,
            "title": title,
            "designation": designation,
            "authentication": authentication,
        });
        let reply = self
            .send(Method::POST, &["flows", "instances"], &body, &action)
            .await?;
        // Made by a run whose answer was lost: use it.
        if reply.is_duplicate("slug")
            && let Some(f) = self.find_flow(slug).await?
        {
            return Ok(f);
        }
        ok(reply, StatusCode::CREATED, &action)?.json(&action)
    }

    async fn bindings(&self, flow_pk: &str) -> Result<Vec<wire::Binding>, DirectoryError> {
        let action = format!("reading the stages of flow {flow_pk}");
        let found: Vec<wire::Binding> = self
            .list_all(
                &["flows", "bindings"],
                &[("target", flow_pk.to_owned())],
                None,
                &action,
            )
            .await?;
        let mut found: Vec<wire::Binding> =
            found.into_iter().filter(|b| b.target == flow_pk).collect();
        found.sort_by_key(|b| b.order);
        Ok(found)
    }

    /// Binds the stage `needed` (found or made by name) to `flow`.
    async fn bind(&self, flow: &wire::Flow, needed: &Needed) -> Result<(), DirectoryError> {
        let stage = self.stage(needed).await?;
        let action = format!("binding stage {} to flow {}", needed.name, flow.slug);
        let body = json!({
            "target": flow.pk,
            "stage": stage,
            "order": needed.order,
            "evaluate_on_plan": true,
            "re_evaluate_policies": false,
        });
        let reply = self
            .send(Method::POST, &["flows", "bindings"], &body, &action)
            .await?;
        ok(reply, StatusCode::CREATED, &action).map(drop)
    }

    /// The key of the stage named `needed.name`, made when missing.
    async fn stage(&self, needed: &Needed) -> Result<String, DirectoryError> {
        let action = format!("finding stage {}", needed.name);
        let found: Vec<wire::Stage> = self
            .list_all(
                needed.endpoint,
                &[("name", needed.name.to_owned())],
                None,
                &action,
            )
            .await?;
        if let Some(s) = found.into_iter().find(|s| s.name == needed.name) {
            return Ok(s.pk);
        }
        let body = match needed.model {
            PROMPT_STAGE => {
                let password = self
                    .prompt("loyalty-recovery-field-password", "password", "Password", 0)
                    .await?;
                let repeat = self
                    .prompt(
                        "loyalty-recovery-field-password-repeat",
                        "password_repeat",
                        "Password (repeat)",
                        1,
                    )
                    .await?;
                json!({ "name": needed.name, "fields": [password, repeat] })
            }
            USER_WRITE_STAGE => {
                json!({ "name": needed.name, "user_creation_mode": "never_create" })
            }
            _ => json!({ "name": needed.name }),
        };
        let action = format!("creating stage {}", needed.name);
        let reply = self
            .send(Method::POST, needed.endpoint, &body, &action)
            .await?;
        let stage: wire::Stage = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(stage.pk)
    }

    /// The key of the password prompt field named `name`, made when missing.
    async fn prompt(
        &self,
        name: &str,
        field_key: &str,
        label: &str,
        order: i64,
    ) -> Result<String, DirectoryError> {
        const PROMPTS: &[&str] = &["stages", "prompt", "prompts"];
        let action = format!("finding prompt {name}");
        let found: Vec<wire::Prompt> = self
            .list_all(PROMPTS, &[("name", name.to_owned())], None, &action)
            .await?;
        if let Some(p) = found.into_iter().find(|p| p.name == name) {
            return Ok(p.pk);
        }
        let action = format!("creating prompt {name}");
        let body: Value = json!({
            "name": name,
            "field_key": field_key,
            "label": label,
            "type": "password",
            "required": true,
            "placeholder": label,
            "order": order,
        });
        let reply = self.send(Method::POST, PROMPTS, &body, &action).await?;
        let prompt: wire::Prompt = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(prompt.pk)
    }
}

fn outcome(created: bool, added: Vec<String>) -> SetupOutcome {
    if created {
        SetupOutcome::Created
    } else if added.is_empty() {
        SetupOutcome::Existing
    } else {
        SetupOutcome::Updated(added)
    }
}
