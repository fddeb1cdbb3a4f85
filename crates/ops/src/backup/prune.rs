//! Retention: which sets `loyalty backup prune` deletes.

use super::Set;
use time::OffsetDateTime;

/// One prune decision.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The set.
    pub set: Set,
    /// Whether it goes.
    pub delete: bool,
    /// Why.
    pub reason: String,
}

/// Decides which sets to delete: unlabelled ones older than `retention_days`, labelled
/// ones older than `keep_labelled_days`, never the newest complete set.
pub fn plan_prune(
    sets: &[Set],
    now: OffsetDateTime,
    retention_days: u32,
    keep_labelled_days: u32,
) -> Vec<Decision> {
    let newest = sets
        .iter()
        .max_by(|a, b| (a.manifest.created_at, &a.name).cmp(&(b.manifest.created_at, &b.name)))
        .map(|s| s.name.clone());
    sets.iter()
        .map(|s| {
            let age_days = (now - s.manifest.created_at).whole_days();
            let (limit, what) = match &s.manifest.label {
                Some(_) => (keep_labelled_days, "labelled sets are kept"),
                None => (retention_days, "sets are kept"),
            };
            let (delete, reason) = if Some(&s.name) == newest.as_ref() {
                (false, "the newest set is always kept".to_owned())
            } else if age_days >= i64::from(limit) {
                (true, format!("{age_days} days old; {what} {limit} days"))
            } else {
                (false, format!("{age_days} days old; {what} {limit} days"))
            };
            Decision {
                set: s.clone(),
                delete,
                reason,
            }
        })
        .collect()
}
