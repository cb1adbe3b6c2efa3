use super::model::NodeStatus;
use super::service::{self, CheckIn, Node, NodeInput};
use crate::auth::{Actor, Audience};
use crate::domain::licenses::loaders::LicenseById;
use crate::domain::licenses::schema::License;
use crate::domain::validation::schema::{LicenseStatus, key_bearer};
use crate::domain::validation::verdict::ValidationCode;
use crate::error::AppError;
use crate::graphql::context::{ContextExt, related_one};
use crate::graphql::guard::{Guarded, Seen, shown, shown_or_not_found};
use crate::graphql::plain::{Plain, plain_fields};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::runtime_nodes;
use uuid::Uuid;

/// A runtime node as the schema shows it (its plain fields answered in place).
pub type RuntimeNode = Plain<RuntimeNodeObject>;

/// A deployed copy of the vendor's software, registered by fingerprint.
pub struct RuntimeNodeObject(runtime_nodes::Model);

impl Guarded for RuntimeNode {
    type Row = Node;

    fn audience((node, developer): &Node) -> Audience {
        Audience::Runtime {
            license: node.license_id,
            developer: *developer,
        }
    }

    fn wrap((node, _): Node, _: Seen) -> Self {
        Plain(RuntimeNodeObject(node))
    }
}

plain_fields!(RuntimeNodeObject {
    "id" => value(id),
    "fingerprint" => value(fingerprint),
    "name" => value(name),
    "appUrl" => value(app_url),
    "version" => value(version),
    "status" => fallible(status),
    "lastCheckInAt" => value(last_check_in_at),
    "heartbeatDeadlineAt" => value(heartbeat_deadline_at),
    "activatedAt" => value(activated_at),
    "deactivatedAt" => value(deactivated_at),
});

#[Object(name = "RuntimeNode")]
impl RuntimeNodeObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn fingerprint(&self) -> &str {
        &self.0.fingerprint
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn app_url(&self) -> Option<&str> {
        self.0.app_url.as_deref()
    }
    async fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    async fn status(&self) -> Result<NodeStatus> {
        Ok(NodeStatus::from_stored(&self.0.status)?)
    }
    /// Active and within its heartbeat deadline: only alive nodes hold a slot.
    async fn alive(&self, ctx: &Context<'_>) -> Result<bool> {
        let active = NodeStatus::from_stored(&self.0.status)? == NodeStatus::Active;
        Ok(active && self.0.heartbeat_deadline_at.with_timezone(&Utc) >= ctx.actor()?.now)
    }
    async fn last_check_in_at(&self) -> DateTime<Utc> {
        self.0.last_check_in_at.with_timezone(&Utc)
    }
    /// The next heartbeat must arrive before this.
    async fn heartbeat_deadline_at(&self) -> DateTime<Utc> {
        self.0.heartbeat_deadline_at.with_timezone(&Utc)
    }
    async fn activated_at(&self) -> DateTime<Utc> {
        self.0.activated_at.with_timezone(&Utc)
    }
    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at.map(|t| t.with_timezone(&Utc))
    }
    /// The license, for signed-in owners and admins (a license key alone does not reveal it).
    async fn license(&self, ctx: &Context<'_>) -> Result<Option<License>> {
        related_one::<LicenseById, License>(ctx, self.0.license_id).await
    }
}

#[derive(SimpleObject)]
pub struct CheckInResult {
    valid: bool,
    code: ValidationCode,
    detail: String,
    license: Option<LicenseStatus>,
    node: Option<RuntimeNode>,
    /// Send the next heartbeat before this.
    next_heartbeat_before: Option<DateTime<Utc>>,
}

impl CheckInResult {
    /// The answer to a heartbeat, showing what `actor` may see of the license and node.
    fn new(actor: &Actor, c: CheckIn) -> Self {
        let developer = c.license.as_ref().map(|l| l.developer_id);
        Self {
            valid: c.code == ValidationCode::Valid,
            code: c.code,
            detail: c.code.detail().to_owned(),
            next_heartbeat_before: c
                .node
                .as_ref()
                .filter(|n| n.status == NodeStatus::Active.as_str())
                .map(|n| n.heartbeat_deadline_at.with_timezone(&Utc)),
            node: c.node.zip(developer).and_then(|node| shown(actor, node)),
            license: c.license.and_then(|l| shown(actor, l.into())),
        }
    }
}

#[derive(Default)]
pub struct NodesMutation;

#[Object]
impl NodesMutation {
    /// Registers a node on a license by fingerprint. Idempotent: the same fingerprint returns
    /// the existing node. Past the plan's `maxRuntimeNodes`: CONFLICT, reason TOO_MANY_MACHINES.
    async fn activate_runtime_node(
        &self,
        ctx: &Context<'_>,
        license_key: String,
        fingerprint: String,
        app_url: Option<String>,
        version: Option<String>,
        name: Option<String>,
    ) -> Result<RuntimeNode> {
        let input = NodeInput {
            fingerprint,
            app_url,
            version,
            name,
        };
        let actor = ctx.actor()?;
        let node = service::activate(actor, &license_key, input).await?;
        let bearer = key_bearer(actor, node.0.license_id);
        Ok(shown_or_not_found(&bearer, node, "runtime node")?)
    }

    /// A heartbeat: by license key and fingerprint, or by node id when signed in. Answers the
    /// license's current validity and the deadline for the next heartbeat.
    async fn check_in(
        &self,
        ctx: &Context<'_>,
        license_key: Option<String>,
        fingerprint: Option<String>,
        node_id: Option<Uuid>,
        version: Option<String>,
    ) -> Result<CheckInResult> {
        let actor = ctx.actor()?;
        let answer = match (license_key, fingerprint, node_id) {
            (Some(key), Some(fingerprint), None) => {
                let answer = service::check_in_by_key(actor, &key, &fingerprint, version).await?;
                return Ok(match answer.license.as_ref().map(|l| l.id) {
                    Some(license) => CheckInResult::new(&key_bearer(actor, license), answer),
                    None => CheckInResult::new(actor, answer),
                });
            }
            (None, None, Some(id)) => service::check_in_by_id(actor, id, version).await?,
            _ => {
                return Err(AppError::validation(
                    "nodeId",
                    "give licenseKey and fingerprint, or nodeId",
                )
                .into());
            }
        };
        Ok(CheckInResult::new(actor, answer))
    }

    /// Frees a node's slot. The license's developer, or an admin.
    async fn deactivate_runtime_node(&self, ctx: &Context<'_>, id: Uuid) -> Result<RuntimeNode> {
        let actor = ctx.actor()?;
        let node = service::deactivate(actor, id).await?;
        Ok(shown_or_not_found(actor, node, "runtime node")?)
    }

    /// Deactivates a node and activates a new fingerprint in its place, in one transaction.
    async fn replace_runtime_node(
        &self,
        ctx: &Context<'_>,
        old_id: Uuid,
        new_fingerprint: String,
        app_url: Option<String>,
        version: Option<String>,
        name: Option<String>,
    ) -> Result<RuntimeNode> {
        let input = NodeInput {
            fingerprint: new_fingerprint,
            app_url,
            version,
            name,
        };
        let actor = ctx.actor()?;
        let node = service::replace(actor, old_id, input).await?;
        Ok(shown_or_not_found(actor, node, "runtime node")?)
    }
}
