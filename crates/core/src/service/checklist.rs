//! The post-handoff checklist of an organization (runbook step 7.4): the items, which
//! of them are done, by whom and when. Items the system can see (the admin chose their
//! own password, an active cashier exists, a purchase was recorded, a backup newer than
//! the onboarding exists, the guide was produced) tick themselves when the checklist is
//! read; the others are ticked by the operator.

use crate::Error;
use crate::directory::Directory;
use crate::domain::ledger::Actor;
use crate::domain::{Email, Organization, Role};
use crate::store::{ChecklistMark, Store};
use time::OffsetDateTime;

/// Who ticks the items the system saw happen.
pub const SYSTEM: &str = "loyalty";

/// How an item gets ticked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tick {
    /// The system sees it and ticks it when the checklist is shown.
    Auto,
    /// `loyalty handoff` ticks it.
    Handoff,
    /// The operator ticks it with `--done`.
    Manual,
}

/// One item of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Key used on the command line and in the database.
    pub key: &'static str,
    /// What it means, as the runbook says it.
    pub label: &'static str,
    /// How it gets ticked.
    pub tick: Tick,
}

/// Every item, in the order of the handoff.
pub const ITEMS: &[Item] = &[
    Item {
        key: "guide-sent",
        label: "Client guide produced and sent (loyalty handoff)",
        tick: Tick::Handoff,
    },
    Item {
        key: "credentials-delivered",
        label: "Admin sign-in link or credentials delivered securely",
        tick: Tick::Manual,
    },
    Item {
        key: "walkthrough",
        label: "Walkthrough call done with the client",
        tick: Tick::Manual,
    },
    Item {
        key: "admin-password",
        label: "Client changed admin password",
        tick: Tick::Auto,
    },
    Item {
        key: "first-cashier",
        label: "Client created first real cashier account",
        tick: Tick::Auto,
    },
    Item {
        key: "first-purchase",
        label: "Test purchase completed successfully",
        tick: Tick::Auto,
    },
    Item {
        key: "support-contact",
        label: "Client knows how to contact support",
        tick: Tick::Manual,
    },
    Item {
        key: "monitoring-alerts",
        label: "Monitoring alerts configured",
        tick: Tick::Manual,
    },
    Item {
        key: "backup",
        label: "Backup in place (a backup newer than the onboarding)",
        tick: Tick::Auto,
    },
    Item {
        key: "contract-sent",
        label: "Contract/invoice sent",
        tick: Tick::Manual,
    },
    Item {
        key: "follow-up",
        label: "One-week follow-up scheduled",
        tick: Tick::Manual,
    },
];

/// The item with this key, or a validation error on `field` listing every key.
pub fn item(field: &str, key: &str) -> Result<&'static Item, Error> {
    let wanted = key.trim().to_ascii_lowercase();
    ITEMS.iter().find(|i| i.key == wanted).ok_or_else(|| {
        Error::field(
            field,
            format!(
                "{key:?} is not a checklist item; use one of: {}",
                ITEMS.iter().map(|i| i.key).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// One line of the checklist as shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Key.
    pub item: &'static str,
    /// Meaning.
    pub label: &'static str,
    /// How it gets ticked.
    pub tick: Tick,
    /// Whether it is done.
    pub done: bool,
    /// When it was ticked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
    /// Who ticked it.
    pub done_by: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// What the system can see of an organization's first days.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    /// The first admin's account has a password they chose (built-in accounts: set and
    /// not to be changed; another provider: as its directory says, such as Authentik's
    /// `password_change_date`); `None` when nobody can tell.
    pub admin_password_changed: Option<bool>,
    /// An active cashier exists.
    pub cashier: bool,
    /// A purchase was recorded.
    pub purchase: bool,
    /// A backup newer than the onboarding exists.
    pub backup: bool,
}

/// Looks at the organization's data. `latest_backup` is the newest complete backup's
/// time, found by the caller (backups are files, not data). `dir`, when given, is asked
/// about an admin who has no built-in account (an Authentik user).
pub async fn observe(
    store: &dyn Store,
    dir: Option<&dyn Directory>,
    org: &Organization,
    latest_backup: Option<OffsetDateTime>,
) -> Result<Observed, Error> {
    let admins = store.list_members(org.id, Some(Role::Admin)).await?;
    let admin_password_changed = match admins.first() {
        None => Some(false),
        Some(first) => {
            let mut seen = None;
            if let (Some(email), Some(subject)) = (&first.email, &first.identity_subject) {
                for account in store.accounts_by_email(email).await? {
                    if &account.uid == subject {
                        seen =
                            Some(account.password_hash.is_some() && !account.must_change_password);
                    }
                }
            }
            if seen.is_none()
                && let (Some(dir), Some(email), Some(subject)) =
                    (dir, &first.email, &first.identity_subject)
                && let Ok(email) = Email::parse(email)
            {
                seen = dir
                    .find_users_by_email(&email)
                    .await?
                    .into_iter()
                    .find(|u| &u.uid == subject)
                    .and_then(|u| u.has_password);
            }
            seen
        }
    };
    let cashier = store
        .list_members(org.id, Some(Role::Cashier))
        .await?
        .iter()
        .any(|m| m.status == "active" && !is_test_account(m.name.as_deref(), m.email.as_deref()));
    let purchase = !store
        .list_purchases(org.id, None, None, None, 1)
        .await?
        .is_empty();
    let backup = latest_backup.is_some_and(|t| t > org.created_at);
    Ok(Observed {
        admin_password_changed,
        cashier,
        purchase,
        backup,
    })
}

/// The checklist of an organization, after ticking the items `observed` shows done.
/// A tick stays once made, so the record keeps when the system first saw it.
pub async fn show(
    store: &dyn Store,
    org: &Organization,
    observed: &Observed,
    now: OffsetDateTime,
) -> Result<Vec<Entry>, Error> {
    let seen = [
        (
            "admin-password",
            observed.admin_password_changed == Some(true),
        ),
        ("first-cashier", observed.cashier),
        ("first-purchase", observed.purchase),
        ("backup", observed.backup),
    ];
    for (key, done) in seen {
        if done {
            store
                .mark_checklist_item_once(org.id, key, SYSTEM, None, now)
                .await?;
        }
    }
    let marks = store.checklist_marks(org.id).await?;
    Ok(entries(&marks))
}

/// The items with their marks, in checklist order.
pub fn entries(marks: &[ChecklistMark]) -> Vec<Entry> {
    ITEMS
        .iter()
        .map(|i| {
            let mark = marks.iter().find(|m| m.item == i.key);
            Entry {
                item: i.key,
                label: i.label,
                tick: i.tick,
                done: mark.is_some(),
                done_at: mark.map(|m| m.done_at),
                done_by: mark.map(|m| m.done_by.clone()),
                note: mark.and_then(|m| m.note.clone()),
            }
        })
        .collect()
}

/// Ticks an item by key (`--done`) on behalf of the operator `done_by` (empty:
/// `operator`); the note is trimmed and at most 2000 characters.
pub async fn mark(
    store: &dyn Store,
    org: &Organization,
    key: &str,
    done_by: &str,
    note: Option<&str>,
    now: OffsetDateTime,
) -> Result<ChecklistMark, Error> {
    let item = item("--done", key)?;
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 2000) {
        return Err(Error::field(
            "--note",
            "is longer than 2000 characters; keep it short",
        ));
    }
    Ok(store
        .mark_checklist_item(org.id, item.key, &Actor::operator(done_by), note, now)
        .await?)
}

/// Unticks an item by key (`--undo`) on behalf of the operator `by`; returns whether it
/// was ticked. An item the system sees ticks itself again the next time the checklist
/// is shown.
pub async fn unmark(
    store: &dyn Store,
    org: &Organization,
    key: &str,
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    let item = item("--undo", key)?;
    Ok(store
        .unmark_checklist_item(org.id, item.key, &Actor::operator(by), now)
        .await?)
}

/// Whether a person looks like the runbook's test account (step 6.2 creates `cashier_test`,
/// "Test Cashier", `test.cashier@...`): a word `test` in the name or the email's local part.
/// Such an account does not count as the client's first real cashier.
fn is_test_account(name: Option<&str>, email: Option<&str>) -> bool {
    let local = email.map(|e| e.split('@').next().unwrap_or_default());
    [name, local].into_iter().flatten().any(|text| {
        text.split(|c: char| !c.is_alphanumeric())
            .any(|word| word.eq_ignore_ascii_case("test"))
    })
}

#[cfg(test)]
mod test_accounts {
    use super::is_test_account;

    #[test]
    fn the_runbook_test_cashier_is_not_a_real_one() {
        assert!(is_test_account(Some("Test Cashier"), None));
        assert!(is_test_account(None, Some("test.cashier@nextdoor.com")));
        assert!(is_test_account(Some("cashier_test"), Some("x@y.com")));
        assert!(!is_test_account(
            Some("Celeste Testa"),
            Some("celeste@nextdoor.com")
        ));
        assert!(!is_test_account(Some("Ana Souza"), Some("ana@test.com")));
        assert!(!is_test_account(None, None));
    }
}
