//! API tokens. A token is shown once, when issued; the desk keeps only its SHA-256 digest, so a
//! copy of the database does not hand out working credentials.

use crate::params;
use crate::store::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::{Actor, Desk, DeskError, MANAGER_ONLY, Result, Role, now};

impl Role {
    /// Parses `clerk`, `manager` or `analyst`.
    pub fn parse(field: &str, value: &str) -> Result<Role> {
        match value.trim().to_ascii_lowercase().as_str() {
            "clerk" => Ok(Role::Clerk),
            "manager" => Ok(Role::Manager),
            "analyst" => Ok(Role::Analyst),
            _ => Err(DeskError::invalid(
                field,
                format!("'{value}' is not a role (clerk, manager, analyst)"),
            )),
        }
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn fresh_token() -> String {
    format!(
        "oltk_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Desk {
    /// Issues a token for `name` with `role` (managers only). Returns the token; it is not stored.
    pub fn issue_token(&mut self, actor: &Actor, name: &str, role: Role) -> Result<String> {
        actor.require(MANAGER_ONLY, "issue API tokens")?;
        self.insert_token(name, role)
    }

    /// The first manager token of a new desk. Refused once any token exists, so it cannot be used
    /// to mint credentials on a desk that is already set up.
    pub fn bootstrap_token(&mut self, name: &str) -> Result<String> {
        let any: i64 =
            self.connection()
                .query_row("select count(*) from api_tokens", params![], |r| r.get(0))?;
        if any > 0 {
            return Err(DeskError::invalid(
                "token",
                "this desk already has tokens: ask a manager to issue one",
            ));
        }
        self.insert_token(name, Role::Manager)
    }

    fn insert_token(&mut self, name: &str, role: Role) -> Result<String> {
        if name.trim().is_empty() {
            return Err(DeskError::invalid("name", "must not be empty"));
        }
        let token = fresh_token();
        self.connection().execute(
            "insert into api_tokens (token_sha256, name, role, created_at) values (?1, ?2, ?3, ?4)",
            params![digest(&token), name.trim(), role.as_str(), now()],
        )?;
        Ok(token)
    }

    /// Revokes every token of `name` (managers only); returns how many were revoked.
    pub fn revoke_tokens(&mut self, actor: &Actor, name: &str) -> Result<usize> {
        actor.require(MANAGER_ONLY, "revoke API tokens")?;
        Ok(self.connection().execute(
            "update api_tokens set revoked_at = ?2 where name = ?1 and revoked_at is null",
            params![name.trim(), now()],
        )?)
    }

    /// The caller a token stands for, or `Unauthorized` for an unknown or revoked token.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let found: Option<(String, String)> = self
            .connection()
            .query_row(
                "select name, role from api_tokens where token_sha256 = ?1 and revoked_at is null",
                params![digest(token)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (name, role) = found.ok_or(DeskError::Unauthorized)?;
        Ok(Actor::new(&name, Role::parse("role", &role)?))
    }
}
