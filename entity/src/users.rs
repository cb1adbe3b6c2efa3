use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub email_verified_at: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::licenses::Entity")]
    Licenses,
    #[sea_orm(has_many = "super::trials::Entity")]
    Trials,
}

impl Related<super::licenses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Licenses.def()
    }
}

impl Related<super::trials::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Trials.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
