//! The authenticated caller of a request and the checks every resolver asks of it.

use crate::error::{AppError, AppResult};
use crate::vocabulary::text_enum;
use uuid::Uuid;

text_enum!(
    // What an account is: an admin of the platform, a developer (who owns licenses), or a
    // developer's team member.
    pub enum Role {
        Admin => "admin",
        Developer => "developer",
        Member => "member",
    }
);

text_enum!(
    /// Who made a change, as the audit trail records it.
    pub enum ActorType {
        User => "user",
        License => "license",
        Instance => "instance",
        System => "system",
        Partner => "partner",
    }
);

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

    pub fn is_member(&self) -> bool {
        matches!(
            self,
            Caller::User {
                role: Role::Member,
                ..
            }
        )
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

    /// Whether the caller may change what this developer owns: admins, and the developer
    /// itself. (What a caller may see is `Actor::may_see`.)
    pub fn manages(&self, developer_id: Uuid) -> bool {
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

    /// Who this caller is in the audit trail.
    pub fn audit_actor(&self) -> (ActorType, Option<Uuid>) {
        match self {
            Caller::User { id, .. } => (ActorType::User, Some(*id)),
            Caller::LicenseKey { license_id } => (ActorType::License, Some(*license_id)),
            Caller::Anonymous => (ActorType::System, None),
            // Nothing an instance token does is audited today (logs are data); the audit
            // table's actor CHECK must admit `instance` before anything is.
            Caller::InstanceToken { instance_id } => (ActorType::Instance, Some(*instance_id)),
        }
    }
}

/// Where a request came from, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}
