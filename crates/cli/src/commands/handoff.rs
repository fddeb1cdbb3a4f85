//! `loyalty handoff`: writes an organization's system guide (runbook step 7.1) as HTML
//! and PDF, in the organization's language, and ticks "guide-sent" on its checklist.

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use crate::handoff::guide::{self, Inputs, Support};
use crate::handoff::{html, pdf};
use anyhow::Context;
use loyalty_core::domain::{Organization, Role, TimeZoneName};
use loyalty_core::service::orgs;
use loyalty_ops::handoff::{Formats, Lang};
use loyalty_web::pages::i18n::Lang as PageLang;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Write the client's system guide as HTML and PDF.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The organization's slug, such as nextdoor.
    #[arg(long, value_name = "SLUG")]
    org: String,
    /// Folder to write into (created when missing). Files are named
    /// {slug}-guide.{lang}.html and .pdf.
    #[arg(long, value_name = "DIR", default_value = "./handoff")]
    out: PathBuf,
    /// Language of the guide: en-US or pt-BR. Default: the organization's language.
    #[arg(long, value_name = "TAG")]
    lang: Option<String>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let lang = match &args.lang {
        None => None,
        Some(tag) => Some(parse_lang(tag)?),
    };
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let store = app.store.as_ref();
    let org = orgs::get(store, &args.org).await?;
    let lang = lang.unwrap_or_else(|| Lang::parse(org.language.as_str()).unwrap_or_default());
    let support = Support {
        email: clean(config.support.contact_email.as_deref()),
        phone: clean(config.support.contact_phone.as_deref()),
        hours: clean(config.support.hours.as_deref()),
    };
    if support.email.is_none() && support.phone.is_none() {
        eprintln!(
            "warning: no support contact is configured, so the guide says \"contact your account manager\"; set [support] contact_email and contact_phone (or LOYALTY_SUPPORT__CONTACT_EMAIL / LOYALTY_SUPPORT__CONTACT_PHONE)"
        );
    }
    let now = app.clock.now();
    let admin = first_admin(&app, &org).await;
    let doc = guide::build(&Inputs {
        org: &org,
        public_url: &app.public_url,
        lang,
        formats: &PageFormats(PageLang::parse(lang.tag()).unwrap_or_default()),
        support: &support,
        admin,
        link_ttl_hours: config.identity.link_ttl_hours,
        now,
    });
    let page = html(&doc).context("rendering the HTML guide")?;
    let pdf_bytes = pdf::render(&doc);

    std::fs::create_dir_all(&args.out).map_err(|e| {
        UserError(format!(
            "--out {}: cannot create the folder ({e}); give a folder you can write to",
            args.out.display()
        ))
    })?;
    let stem = format!("{}-guide.{}", org.slug, lang.tag());
    let html_path = args.out.join(format!("{stem}.html"));
    let pdf_path = args.out.join(format!("{stem}.pdf"));
    write_whole(&html_path, page.as_bytes())?;
    write_whole(&pdf_path, &pdf_bytes)?;

    let note = format!(
        "{} and {} ({})",
        html_path.display(),
        pdf_path.display(),
        lang.tag()
    );
    store
        .mark_checklist_item(
            org.id,
            "guide-sent",
            &loyalty_core::domain::ledger::Actor::operator("loyalty handoff"),
            Some(&note),
            now,
        )
        .await
        .context("ticking guide-sent on the checklist")?;

    if args.json {
        let out = serde_json::json!({
            "org": org.slug,
            "lang": lang.tag(),
            "login_url": app.login_url(),
            "html": {"path": html_path, "bytes": page.len()},
            "pdf": {"path": pdf_path, "bytes": pdf_bytes.len()},
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        outln!(
            "Wrote the system guide of {} ({}) in {}:",
            org.name,
            org.slug,
            lang.tag()
        );
        outln!("  {}  ({} bytes)", html_path.display(), page.len());
        outln!("  {}  ({} bytes)", pdf_path.display(), pdf_bytes.len());
        outln!("Login URL in the guide: {}", app.login_url());
        outln!(
            "Send the PDF to the client; deliver the admin's sign-in link separately (runbook 7.2). \
             Checklist item guide-sent is ticked: loyalty org checklist {}",
            org.slug
        );
    }
    Ok(())
}

/// The guide writes numbers, money and dates as the pages do in the same language.
struct PageFormats(PageLang);

impl Formats for PageFormats {
    fn int(&self, n: i64) -> String {
        self.0.int(n)
    }

    fn money(&self, amount: Decimal, currency: &str) -> String {
        self.0.money(amount, currency)
    }

    fn date(&self, t: OffsetDateTime, tz: &TimeZoneName) -> String {
        self.0.date(t, tz)
    }
}

fn parse_lang(tag: &str) -> Result<Lang, UserError> {
    Lang::ALL
        .into_iter()
        .find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
        .ok_or_else(|| {
            UserError(format!(
                "--lang {tag:?} is not a language of the guide; use en-US or pt-BR"
            ))
        })
}

fn clean(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The first admin's username and email, when the identity provider knows them.
async fn first_admin(app: &App, org: &Organization) -> Option<(String, String)> {
    let admins = app
        .store
        .list_members(org.id, Some(Role::Admin))
        .await
        .ok()?;
    let first = admins.into_iter().find(|m| m.status == "active")?;
    let email = first.email.clone()?;
    let parsed = loyalty_core::domain::Email::parse(&email).ok()?;
    let username = match app.directory.find_users_by_email(&parsed).await {
        Ok(users) => users
            .into_iter()
            .find(|u| Some(&u.uid) == first.identity_subject.as_ref())
            .map(|u| u.username),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up the admin's username; the guide names the email only");
            None
        }
    };
    Some((username.unwrap_or_else(|| email.clone()), email))
}

/// Writes a file in full or not at all: a temporary file in the same folder, renamed.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("part")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PageLang;
    use loyalty_ops::handoff::Lang;

    #[test]
    fn the_guide_speaks_the_languages_of_the_pages() {
        let pages = PageLang::ALL;
        assert_eq!(pages.len(), Lang::ALL.len());
        for page in pages {
            let guide = Lang::parse(page.tag()).expect("a language of the guide");
            assert_eq!((guide.tag(), guide.label()), (page.tag(), page.label()));
        }
    }
}
