use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "plan_entitlements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub plan_id: Uuid,
    pub max_customers: Option<i32>,
    pub max_workspaces: Option<i32>,
    pub max_ai_employees: Option<i32>,
    pub max_team_members: Option<i32>,
    pub max_runtime_nodes: Option<i32>,
    pub max_seats: Option<i32>,
    pub white_label_basic: bool,
    pub support_level: String,
    pub db_type: String,
    pub storage_quota_bytes: Option<i64>,
    pub daily_api_requests: Option<i64>,
    pub features: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::plans::Entity",
        from = "Column::PlanId",
        to = "super::plans::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Plans,
}

impl Related<super::plans::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Plans.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
