//! Who may do what: roles and the authenticated caller of an operation.

use crate::error::{DeskError, Result};
use serde::Serialize;

/// Who may do what: clerks run orders, payments and returns; managers also credit limits,
/// write-offs, rebate runs and master data; analysts only read reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Clerk,
    Manager,
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
        }
    }
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

impl Actor {
    pub fn new(name: &str, role: Role) -> Self {
        Actor {
            name: name.to_string(),
            role,
        }
    }

    pub(crate) fn require(&self, allowed: &[Role], operation: &'static str) -> Result<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(DeskError::Forbidden {
                role: self.role.as_str().to_string(),
                operation,
            })
        }
    }
}

pub(crate) const ORDER_ROLES: &[Role] = &[Role::Clerk, Role::Manager];
pub(crate) const READ_ROLES: &[Role] = &[Role::Clerk, Role::Manager, Role::Analyst];
pub(crate) const MANAGER_ONLY: &[Role] = &[Role::Manager];
