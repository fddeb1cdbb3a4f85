//! Reading the runbook's pre-onboarding YAML block (Organization / Admin Contact /
//! Business Details / Technical) into [`OnboardInput`].
//!
//! The runbook's template writes choices as `plan: "basic" | "premium"`. Left as is, that
//! is not even valid YAML, so such placeholders are found line by line first and refused
//! with a message that says what to write instead.

use super::onboard::OnboardInput;
use crate::Error;
use crate::error::FieldError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "Organization")]
    organization: Organization,
    #[serde(rename = "Admin Contact")]
    admin: Admin,
    #[serde(rename = "Business Details", default)]
    business: Business,
    #[serde(rename = "Technical", default)]
    technical: Technical,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Organization {
    name: Option<String>,
    slug: Option<String>,
    country: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    group_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Admin {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    language: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Business {
    plan: Option<String>,
    deployment_type: Option<String>,
    contract_start: Option<String>,
    users_estimate: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Technical {
    custom_domain: Option<String>,
    smtp_provider: Option<String>,
    backup_schedule: Option<String>,
}

/// Parses the pre-onboarding YAML. Markdown code fences around the block are allowed,
/// so the block can be pasted straight from the runbook.
pub fn parse(text: &str) -> Result<OnboardInput, Error> {
    let cleaned: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    let placeholders = find_placeholders(&cleaned);
    if !placeholders.is_empty() {
        return Err(Error::Validation(placeholders));
    }
    let file: File = serde_yaml_ng::from_str(&cleaned).map_err(|e| {
        Error::field(
            "file",
            format!("is not the runbook's pre-onboarding YAML: {e}; keep the keys Organization, Admin Contact, Business Details and Technical as in the runbook"),
        )
    })?;
    let names = [
        ("name", "Organization.name"),
        ("slug", "Organization.slug"),
        ("country", "Organization.country"),
        ("timezone", "Organization.timezone"),
        ("currency", "Organization.currency"),
        ("group_prefix", "Organization.group_prefix"),
        ("admin_name", "Admin Contact.name"),
        ("admin_email", "Admin Contact.email"),
        ("admin_phone", "Admin Contact.phone"),
        ("language", "Admin Contact.language"),
        ("plan", "Business Details.plan"),
        ("deployment_type", "Business Details.deployment_type"),
        ("contract_start", "Business Details.contract_start"),
        ("users_estimate", "Business Details.users_estimate"),
        ("custom_domain", "Technical.custom_domain"),
        ("smtp_provider", "Technical.smtp_provider"),
        ("backup_schedule", "Technical.backup_schedule"),
    ];
    Ok(OnboardInput {
        name: file.organization.name,
        slug: file.organization.slug,
        country: file.organization.country,
        timezone: file.organization.timezone,
        currency: file.organization.currency,
        group_prefix: file.organization.group_prefix,
        admin_name: file.admin.name,
        admin_email: file.admin.email,
        admin_phone: file.admin.phone,
        language: file.admin.language,
        plan: file.business.plan,
        deployment_type: file.business.deployment_type,
        contract_start: file.business.contract_start,
        users_estimate: file.business.users_estimate,
        custom_domain: file.technical.custom_domain,
        smtp_provider: file.technical.smtp_provider,
        backup_schedule: file.technical.backup_schedule,
        field_names: names.into_iter().map(|(k, v)| (k, v.to_owned())).collect(),
    })
}

/// Template values left in: `"a" | "b"` choice lists and `<...>` / `[...]` fill-ins.
fn find_placeholders(text: &str) -> Vec<FieldError> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let content = line.split(" #").next().unwrap_or_default();
        let Some((key, value)) = content.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if !line.starts_with(' ') && !line.starts_with('\t') {
            section = key.trim().to_owned();
            continue;
        }
        let field = format!("{section}.{}", key.trim());
        if value.contains('|') && value.starts_with('"') {
            let choices: Vec<String> = value
                .split('|')
                .map(|c| c.trim().trim_matches('"').to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            out.push(FieldError::new(
                field,
                format!(
                    "still holds the template's choices {value}; keep exactly one, for example {}: \"{}\"",
                    key.trim(),
                    choices.first().cloned().unwrap_or_default()
                ),
            ));
        } else if (value.starts_with("\"<") || value.starts_with('<'))
            && value.trim_matches('"').ends_with('>')
            || (value.starts_with("\"[") && value.ends_with("]\""))
        {
            out.push(FieldError::new(
                field,
                format!("still holds the template's placeholder {value}; write the real value or remove the line"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: &str = r#"
Organization:
  name: "NextDoorMarket"
  slug: "nextdoor"  # Lowercase, no spaces, used in group names
  country: "US"
  timezone: "America/New_York"

Admin Contact:
  name: "Jane Smith"
  email: "jane.smith@nextdoormarket.com"
  phone: "+1 555-123-4567"
  language: "en-US"

Business Details:
  plan: "basic" | "premium"
  deployment_type: "multi-tenant" | "single-tenant"
  contract_start: "2025-01-01"
  users_estimate: 100  # Number of expected users

Technical:
  custom_domain: "app.nextdoormarket.com" # Optional
  smtp_provider: "sendgrid" | "ses" | "smtp"
  backup_schedule: "daily" | "weekly"
"#;

    #[test]
    fn the_runbook_template_as_written_is_refused_naming_each_placeholder() {
        let Err(Error::Validation(errors)) = parse(RUNBOOK) else {
            panic!("template accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "Business Details.plan",
                "Business Details.deployment_type",
                "Technical.smtp_provider",
                "Technical.backup_schedule"
            ]
        );
        assert!(
            errors[0].message.contains("plan: \"basic\""),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_filled_in_template_parses_and_validates() {
        let filled = RUNBOOK
            .replace(r#""basic" | "premium""#, r#""premium""#)
            .replace(r#""multi-tenant" | "single-tenant""#, r#""multi-tenant""#)
            .replace(r#""sendgrid" | "ses" | "smtp""#, r#""sendgrid""#)
            .replace(r#""daily" | "weekly""#, r#""daily""#);
        let input = parse(&format!("```yaml\n{filled}```\n")).expect("parses");
        let plan = input.validate().expect("valid");
        assert_eq!(plan.org.slug.as_str(), "nextdoor");
        assert_eq!(plan.org.currency.as_str(), "USD");
        assert_eq!(plan.admin_username.as_str(), "nextdoor_admin");
        assert_eq!(plan.org.settings["smtp_provider"], "sendgrid");
    }

    #[test]
    fn bad_values_are_reported_under_their_yaml_keys() {
        let bad = RUNBOOK
            .replace(r#""basic" | "premium""#, r#""gold""#)
            .replace(r#""multi-tenant" | "single-tenant""#, r#""multi-tenant""#)
            .replace(r#""sendgrid" | "ses" | "smtp""#, r#""smtp""#)
            .replace(r#""daily" | "weekly""#, r#""daily""#)
            .replace("America/New_York", "America/Gotham");
        let Err(Error::Validation(errors)) = parse(&bad).and_then(|i| i.validate()) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["Business Details.plan", "Organization.timezone"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse("Organization:\n  name: x\n  slogan: y\nAdmin Contact:\n  name: a\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("slogan"), "{err}");
    }
}
