//! Idempotency keys: a caller that retries a request after a timeout (a payment, a return, a
//! bill) gets the first result back instead of the operation applied twice. The key, the
//! request's digest and the result are written in the transaction of the operation itself,
//! so the operation and its record exist together or not at all.

use sha2::{Digest, Sha256};

use super::*;

/// What an idempotent call answered, and whether it was the remembered first answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The operation's result as the caller first saw it (JSON).
    pub result: String,
    pub replayed: bool,
}

/// The digest a request is remembered by: the same key with a different request is refused.
pub fn request_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// Keys are what clients make up (a UUID, usually): bounded, printable.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()) {
        return Err(DeskError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 printable characters (a UUID, say)",
        ));
    }
    Ok(())
}

impl Desk {
    /// Runs `f` once per (caller, key): the first call runs it and remembers its JSON result in
    /// the same transaction; a retry with the same request gets that result back
    /// (`replayed`), and the same key with a different request is refused. A failed call is
    /// not remembered (it changed nothing), so a retry runs it again.
    pub fn idempotent(
        &mut self,
        actor: &Actor,
        key: &str,
        operation: &str,
        request_sha256: &str,
        f: impl FnOnce(&mut Desk) -> Result<String>,
    ) -> Result<Remembered> {
        check_key(key)?;
        self.within(|desk| {
            let first: Option<(String, String, String)> = cached_row(
                &desk.conn,
                "select operation, request_sha256, result from idempotency_keys where actor = ?1 and idempotency_key = ?2",
                params![actor.name, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            if let Some((first_operation, first_request, result)) = first {
                if first_operation != operation || first_request != request_sha256 {
                    return Err(DeskError::invalid(
                        "Idempotency-Key",
                        format!(
                            "'{key}' was already used for a different request ({first_operation}): \
                             use a new key for a new request"
                        ),
                    ));
                }
                return Ok(Remembered {
                    result,
                    replayed: true,
                });
            }
            let result = f(desk)?;
            exec(
                &desk.conn,
                "insert into idempotency_keys (actor, idempotency_key, operation, request_sha256, result, created_at) values (?1, ?2, ?3, ?4, ?5, ?6)",
                params![actor.name, key, operation, request_sha256, result, now()],
            )?;
            Ok(Remembered {
                result,
                replayed: false,
            })
        })
    }
}
