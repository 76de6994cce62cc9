//! The outbox: change events written in each operation's transaction, and their publication
//! to the landing folder exactly once.

use super::*;

/// Writes a change event to the outbox, in the operation's transaction.
pub(crate) fn event(
    tx: &Db,
    event_type: &str,
    entity: &str,
    payload: &impl Serialize,
) -> Result<()> {
    let mut events = Events::default();
    events.add(event_type, entity, payload)?;
    events.write(tx)
}

/// The change events of one operation, written to the outbox together: one multi-row INSERT
/// where one statement per event was a fifth of a bill's cost (a bill of three lines emits
/// seven). Their order in the outbox is the order they were added.
#[derive(Default)]
pub(crate) struct Events<'a> {
    rows: Vec<(&'a str, &'a str, String)>,
}

impl<'a> Events<'a> {
    pub(crate) fn add(
        &mut self,
        event_type: &'a str,
        entity: &'a str,
        payload: &impl Serialize,
    ) -> Result<()> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| DeskError::invalid("outbox.payload", format!("{entity}: {e}")))?;
        self.rows.push((event_type, entity, payload));
        Ok(())
    }

    /// Writes the events, all stamped with the same time, in the operation's transaction.
    pub(crate) fn write(self, tx: &Db) -> Result<()> {
        let at = now();
        let values: Vec<&dyn Param> = self
            .rows
            .iter()
            .flat_map(|(event_type, entity, payload)| {
                [event_type as &dyn Param, entity, payload, &at]
            })
            .collect();
        insert_rows(
            tx,
            "insert into outbox (event_type, entity, payload, created_at)",
            4,
            &values,
        )?;
        Ok(())
    }
}

/// One landing file written by [`Desk::publish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    pub file: String,
    pub entity: String,
    pub events: usize,
}

impl Desk {
    /// [`Desk::publish`] on a caller's request (managers only).
    pub fn publish_for(&mut self, actor: &Actor, landing: &Path) -> Result<Vec<Published>> {
        actor.require(MANAGER_ONLY, "publish change events")?;
        self.publish(landing)
    }

    /// Publishes the outbox's unpublished events to `landing` as NDJSON, one file per entity named
    /// after its first event (`orders_000000000042.ndjson`, so `orderlake ingest` loads it into
    /// `bronze.orders`). Each file is written under a dot-name (ignored by ingest), renamed into
    /// place, and only then are its events marked published, in one transaction. A crash between
    /// rename and mark makes the next call write the same file name again (with any newer events
    /// too); ingest replaces a changed file's rows, so every event reaches bronze exactly once.
    pub fn publish(&mut self, landing: &Path) -> Result<Vec<Published>> {
        std::fs::create_dir_all(landing)
            .map_err(|e| DeskError::invalid("landing", format!("{}: {e}", landing.display())))?;
        let events: Vec<(i64, String, String)> = {
            self.conn.query_map("select event_id, entity, payload from outbox where published_file is null order by event_id", params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        };
        let mut by_entity: std::collections::BTreeMap<String, Vec<(i64, String)>> =
            Default::default();
        for (id, entity, payload) in events {
            by_entity.entry(entity).or_default().push((id, payload));
        }
        let mut written = Vec::new();
        for (entity, events) in &by_entity {
            let first = events[0].0;
            let file = orderlake_landing::numbered_file(entity, first as u64, 12, "ndjson");
            let temp = landing.join(format!(".{file}.tmp"));
            let mut body = String::new();
            for (id, payload) in events {
                // The event id travels with the row, so bronze can show each event arrived once.
                let mut line: serde_json::Value = serde_json::from_str(payload).map_err(|e| {
                    DeskError::invalid("outbox.payload", format!("event {id}: {e}"))
                })?;
                line["_event_id"] = json!(id);
                body.push_str(&line.to_string());
                body.push('\n');
            }
            let io = |e: std::io::Error| {
                DeskError::invalid("landing", format!("{}: {e}", temp.display()))
            };
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&temp).map_err(io)?;
                f.write_all(body.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            std::fs::rename(&temp, landing.join(&file)).map_err(io)?;
            written.push((
                file,
                entity.clone(),
                events.iter().map(|e| e.0).collect::<Vec<_>>(),
            ));
        }
        self.atomic(|tx, _| {
            for (file, _, ids) in &written {
                for id in ids {
                    tx.execute(
                        "update outbox set published_file = ?1 where event_id = ?2",
                        params![file, id],
                    )?;
                }
            }
            Ok(())
        })?;
        Ok(written
            .into_iter()
            .map(|(file, entity, ids)| Published {
                file,
                entity,
                events: ids.len(),
            })
            .collect())
    }
}
