//! `loyalty user`: people at the identity provider.

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use crate::output::when;
use loyalty_core::domain::Username;
use secrecy::ExposeSecret;

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Issue a new one-time password-set link (the previous one stops working).
    ///
    /// With --mail the link is not printed: a password-reset mail carrying it is queued
    /// for the person's email address (sent by `serve`, or now by `loyalty mail flush`).
    Link {
        /// The person's username, such as nextdoor_admin.
        username: String,
        /// Mail the link to the person instead of printing it.
        #[arg(long)]
        mail: bool,
        /// Write the mail in this organization's language, from its sender.
        #[arg(long, value_name = "SLUG", requires = "mail")]
        org: Option<String>,
    },
    /// Show a person's groups and the organization roles they give.
    Show {
        /// The person's username.
        username: String,
    },
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let (Command::Link { username, .. } | Command::Show { username }) = &cmd;
    let parsed = Username::parse(username).map_err(|e| UserError(e.to_string()))?;
    let user = app
        .directory
        .find_user_by_username(&parsed)
        .await?
        .ok_or_else(|| UserError(format!("no user {parsed:?} at the {} identity provider; check the spelling with `loyalty org show SLUG`", app.directory.provider())))?;
    match cmd {
        Command::Link {
            mail: true, org, ..
        } => {
            let org = match org {
                Some(slug) => {
                    Some(loyalty_core::service::orgs::get(app.store.as_ref(), &slug).await?)
                }
                None => None,
            };
            let to = loyalty_core::service::mail::queue_password_reset(
                app.store.as_ref(),
                app.clock.as_ref(),
                app.directory.as_ref(),
                &user,
                org.as_ref(),
            )
            .await?;
            outln!(
                "Password-reset mail with a new one-time link queued for {} <{to}>{}",
                user.username,
                if config.mail.is_configured() {
                    "; `serve` sends it within seconds (or run `loyalty mail flush`)."
                } else {
                    ". Mail is not configured (SMTP_HOST), so it waits in the outbox."
                }
            );
        }
        Command::Link { .. } => match app.directory.password_set_link(user.pk).await? {
            Some(link) => {
                outln!(
                    "One-time link for {} ({}){}:",
                    user.name,
                    user.username,
                    link.expires_at
                        .map(|t| format!(", valid until {}", when(t)))
                        .unwrap_or_default()
                );
                outln!("  {}", link.url.expose_secret());
                outln!("Send it over a secure channel; it works once.");
            }
            None => anyhow::bail!(
                "the identity provider has no recovery flow configured, so it cannot issue links"
            ),
        },
        Command::Show { .. } => {
            let groups = app.directory.user_groups(user.pk).await?;
            outln!(
                "username  {}\nname      {}\nemail     {}\nactive    {}\npassword  {}",
                user.username,
                user.name,
                user.email.as_deref().unwrap_or("-"),
                user.is_active,
                match user.has_password {
                    Some(true) => "set",
                    Some(false) => "not set",
                    None => "managed by the identity provider",
                }
            );
            outln!(
                "groups    {}",
                if groups.is_empty() {
                    "-".into()
                } else {
                    groups.join(", ")
                }
            );
            for m in loyalty_core::domain::resolve_memberships(&groups) {
                outln!("role      {} in {}", m.role, m.prefix);
            }
        }
    }
    Ok(())
}
