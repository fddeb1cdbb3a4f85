//! Statements run both through sqlx (the pool's connections) and through rusqlite (the
//! writer's own connection, inside a points command's transaction): written once here,
//! with `?N` parameters that both drivers bind in the same order.

/// Appends an audit record: id, organization, actor, actor role, action, target type,
/// target id, before, after, reason, request id, created at.
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Queues a mail unless its dedupe key is queued: id, organization, kind, dedupe key,
/// to, from name, reply-to, subject, text body, HTML body, created at (also the first
/// attempt's time), discard after.
pub(crate) const INSERT_MAIL: &str = "INSERT INTO mail_outbox (id, organization_id, kind, dedupe_key, to_address, from_name, reply_to, subject, \
     body_text, body_html, created_at, discard_after, next_attempt_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?11) ON CONFLICT (dedupe_key) DO NOTHING";
