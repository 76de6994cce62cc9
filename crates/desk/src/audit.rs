//! The audit trail: who did what to which record, with what it looked like.

use super::*;

pub(crate) fn audit(
    tx: &Db,
    entity: &str,
    id: impl std::fmt::Display,
    action: &str,
    actor: &str,
    payload: &impl Serialize,
) -> Result<()> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| DeskError::invalid("audit.payload", format!("{entity} {id}: {e}")))?;
    exec(
        tx,
        "insert into audit (entity, entity_id, action, actor, at, payload) values (?1, ?2, ?3, ?4, ?5, ?6)",
        params![entity, id.to_string(), action, actor, now(), payload],
    )?;
    Ok(())
}
