//! The authenticated caller of a request and the checks every resolver asks of it.

use crate::error::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Developer,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Role::Admin),
            "developer" => Some(Role::Developer),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User {
        id: Uuid,
        role: Role,
    },
    /// A runtime node presenting a license key: it acts on that license only.
    LicenseKey {
        license_id: Uuid,
    },
    /// An instance presenting one of its tokens: it writes and reads its own logs, nothing else.
    InstanceToken {
        instance_id: Uuid,
    },
}

impl Caller {
    pub fn require_user(&self) -> AppResult<(Uuid, Role)> {
        match self {
            Caller::User { id, role } => Ok((*id, *role)),
            Caller::Anonymous | Caller::LicenseKey { .. } => {
                Err(AppError::Unauthenticated("sign in first"))
            }
            Caller::InstanceToken { .. } => Err(AppError::Forbidden(
                "an instance token may only write and read its instance's logs",
            )),
        }
    }

    pub fn require_admin(&self) -> AppResult<Uuid> {
        match self.require_user()? {
            (id, Role::Admin) => Ok(id),
            _ => Err(AppError::Forbidden("admins only")),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Caller::User {
                role: Role::Admin,
                ..
            }
        )
    }

    /// Whether the caller may see data owned by this developer.
    pub fn can_see_developer(&self, developer_id: Uuid) -> bool {
        match self {
            Caller::User {
                role: Role::Admin, ..
            } => true,
            Caller::User { id, .. } => *id == developer_id,
            Caller::Anonymous | Caller::LicenseKey { .. } => false,
            Caller::InstanceToken { .. } => false,
        }
    }

    /// The instance this caller is a token of, if it is one.
    pub fn instance_token(&self) -> Option<Uuid> {
        match self {
            Caller::InstanceToken { instance_id } => Some(*instance_id),
            _ => None,
        }
    }

    /// The audit trail's (actor type, actor id) for this caller.
    pub fn actor(&self) -> (&'static str, Option<Uuid>) {
        match self {
            Caller::User { id, .. } => ("user", Some(*id)),
            Caller::LicenseKey { license_id } => ("license", Some(*license_id)),
            Caller::Anonymous => ("system", None),
            // Nothing an instance token does is audited today (logs are data); the audit
            // table's actor CHECK must admit `instance` before anything is.
            Caller::InstanceToken { instance_id } => ("instance", Some(*instance_id)),
        }
    }
}

/// Where a request came from, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}
