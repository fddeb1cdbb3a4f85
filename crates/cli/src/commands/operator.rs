//! `loyalty operator`: the installation's operators (the people who open `/operator` and
//! onboard shops), kept in the operators group (`identity.operators_group`) of the
//! built-in accounts or of Authentik.

use crate::app::{App, Schema};
use crate::config::Config;
use crate::output::{table, when};
use loyalty_core::directory::Outcome;
use loyalty_core::service::mail::Credential;
use loyalty_core::service::onboard::CredentialMode;
use loyalty_core::service::operators::{self, NewOperator};
use secrecy::ExposeSecret;

/// Operator commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make someone an operator: creates their account if needed, puts it in the
    /// operators group and prints a one-time link with which they set their password.
    ///
    /// Safe to repeat. An existing account with this username is reused (a shop's admin
    /// can also be an operator); it keeps its password. With Authentik
    /// (identity.mode = authentik) the account and the group are Authentik's.
    Add {
        /// Sign-in name, such as ana_ops (letters, digits, `.`, `_`, `-`, `@`).
        #[arg(long)]
        username: String,
        /// Display name, such as "Ana Souza".
        #[arg(long)]
        name: String,
        /// Email address, for password-reset mail.
        #[arg(long)]
        email: Option<String>,
        /// Print a generated password (to be changed at first sign-in) instead of a
        /// one-time link.
        #[arg(long)]
        password_output: bool,
        /// Print JSON (includes the link or password: handle it as a secret).
        #[arg(long)]
        json: bool,
    },
    /// Every operator, with whether their account is active.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take someone out of the operators group. Their account stays (with its roles in
    /// shops); with built-in accounts their next request is no longer an operator's.
    Remove {
        /// The operator's username.
        username: String,
    },
    /// Issue a new one-time password-set link for an operator (the previous one stops
    /// working).
    Link {
        /// The operator's username.
        username: String,
    },
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let dir = app.directory.as_ref();
    let group = config.identity.operators_group.as_str();
    match cmd {
        Command::Add {
            username,
            name,
            email,
            password_output,
            json,
        } => {
            let new = NewOperator::parse(&username, &name, email.as_deref())?;
            let mode = if password_output {
                CredentialMode::Password
            } else {
                CredentialMode::Link
            };
            let added = operators::add(dir, group, &new, mode).await?;
            let login = app.login_url();
            if json {
                let credential = match &added.credential {
                    Credential::Link { url, expires_at } => serde_json::json!({
                        "kind": "link", "url": url.expose_secret(),
                        "expires_at": expires_at.map(|t| t.unix_timestamp()),
                    }),
                    Credential::Password(p) => {
                        serde_json::json!({"kind": "password", "password": p.expose_secret()})
                    }
                    Credential::Existing => serde_json::json!({"kind": "existing_account"}),
                };
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "username": added.user.username,
                        "name": added.user.name,
                        "email": added.user.email,
                        "group": added.group,
                        "account": added.account,
                        "membership": added.membership,
                        "login_url": login,
                        "credential": credential,
                    }))?
                );
                return Ok(());
            }
            outln!(
                "{} ({}) {} operator: member of {} at the {} identity provider{}.",
                added.user.name,
                added.user.username,
                if added.membership == Outcome::Created {
                    "is now an"
                } else {
                    "already was an"
                },
                added.group,
                dir.provider(),
                if added.account == Outcome::Created {
                    ", account created"
                } else {
                    ", existing account"
                }
            );
            match &added.credential {
                Credential::Link { url, expires_at } => {
                    outln!(
                        "One-time link to set the password (shown once{}):\n  {}\nSend it over a secure channel; it works once. Then sign in at {login} and open /operator.",
                        expires_at
                            .map(|t| format!(", valid until {}", when(t)))
                            .unwrap_or_default(),
                        url.expose_secret()
                    );
                }
                Credential::Password(p) => outln!(
                    "Generated password (shown once; it must be changed at first sign-in):\n  {}\nSign in at {login} and open /operator.",
                    p.expose_secret()
                ),
                Credential::Existing => outln!(
                    "They sign in at {login} with their existing password and open /operator (`loyalty operator link {}` issues a new link).",
                    added.user.username
                ),
            }
        }
        Command::List { json } => {
            let list = operators::list(dir, group).await?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "username": u.username, "name": u.name,
                            "email": u.email, "active": u.is_active,
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else if list.is_empty() {
                outln!(
                    "No operators in {group}. Make the first one with: loyalty operator add --username NAME --name \"FULL NAME\" --email EMAIL"
                );
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.name.clone(),
                            u.email.clone().unwrap_or_else(|| "-".into()),
                            if u.is_active { "yes" } else { "no" }.into(),
                        ]
                    })
                    .collect();
                out!("{}", table(&["USERNAME", "NAME", "EMAIL", "ACTIVE"], &rows));
            }
        }
        Command::Remove { username } => {
            let user = operators::remove(dir, group, &username).await?;
            outln!(
                "{} ({}) is no longer an operator (removed from {group}); the account itself stays.",
                user.name,
                user.username
            );
        }
        Command::Link { username } => {
            let (user, link) = operators::link(dir, group, &username).await?;
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
    }
    Ok(())
}
