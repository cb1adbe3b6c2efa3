//! Column shapes shared by every table, so ids and timestamps look the same everywhere.

use sea_orm_migration::prelude::*;

pub fn id_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

pub fn uuid_ref<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().to_owned()
}

pub fn uuid_ref_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().null().to_owned()
}

pub fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

pub fn timestamp_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

pub fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

pub fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

/// A CHECK that a text column holds one of a fixed set of values; the enum lives in the API,
/// the database refuses anything else.
pub fn one_of(column: &str, values: &[&str]) -> Expr {
    let list = values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Expr::cust(format!("{column} IN ({list})"))
}
