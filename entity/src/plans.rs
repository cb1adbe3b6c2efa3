use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub billing_interval: String,
    pub trial_days: i32,
    pub active: bool,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::licenses::Entity")]
    Licenses,
    #[sea_orm(has_one = "super::plan_entitlements::Entity")]
    PlanEntitlements,
    #[sea_orm(has_many = "super::trials::Entity")]
    Trials,
}

impl Related<super::licenses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Licenses.def()
    }
}

impl Related<super::plan_entitlements::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlanEntitlements.def()
    }
}

impl Related<super::trials::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Trials.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
