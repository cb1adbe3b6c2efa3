//! Keyset pages of `licenses`: a cursor holds the sort key and id of the last row sent, and the
//! next page is read from an index from there on, so a page costs the same at any depth. Every
//! order ends with the id, so rows that tie on the key keep one order. Licenses that never
//! expire come after all others when sorting by expiry ascending, before them descending.

use super::model::{LicenseOrderField, OrderDirection};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, FixedOffset};
use data_encoding::BASE64URL_NOPAD;
use entity::licenses;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, Order};
use uuid::Uuid;

/// The row a page continues after, as its cursor names it.
#[derive(Clone, Debug, PartialEq)]
pub struct After {
    pub key: Key,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    /// When the license was made (its creation time orders the list, so that a `createdAfter`
    /// or `createdBefore` filter and the order are one index range).
    Created(DateTime<FixedOffset>),
    /// `None`: a license that never expires.
    Expiry(Option<DateTime<FixedOffset>>),
    /// Seats used and total: the ratio is computed from them by the same expression as the
    /// index's, so the comparison is exact.
    Utilization { used: i32, total: i32 },
    /// The search rank, as the database computed it (the same expression compares exactly).
    Relevance(f32),
}

impl After {
    /// The cursor of `row` in `order`; `rank` is its search rank, for the relevance order.
    pub fn of(order: LicenseOrderField, row: &licenses::Model, rank: Option<f32>) -> Self {
        let key = match order {
            LicenseOrderField::Relevance => Key::Relevance(rank.unwrap_or(0.0)),
            LicenseOrderField::CreatedAt => Key::Created(row.created_at),
            LicenseOrderField::ExpiresAt => Key::Expiry(row.expires_at),
            LicenseOrderField::Utilization => Key::Utilization {
                used: row.seats_used,
                total: row.seats_total,
            },
        };
        Self { key, id: row.id }
    }

    pub fn encode(&self) -> String {
        let key = match &self.key {
            Key::Created(at) => format!("c{}", at.to_rfc3339()),
            Key::Expiry(None) => "e~".to_owned(),
            Key::Expiry(Some(at)) => format!("e{}", at.to_rfc3339()),
            Key::Utilization { used, total } => format!("u{used}/{total}"),
            // The shortest text that reads back as the same number.
            Key::Relevance(rank) => format!("r{rank}"),
        };
        BASE64URL_NOPAD.encode(format!("{key}|{}", self.id).as_bytes())
    }

    /// A cursor this list handed out for `order`; anything else is refused.
    pub fn decode(order: LicenseOrderField, cursor: &str) -> AppResult<Self> {
        let refused = || AppError::validation("after", "not a cursor of this list in this order");
        let text = BASE64URL_NOPAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(refused)?;
        let (key, id) = text.rsplit_once('|').ok_or_else(refused)?;
        let id = Uuid::parse_str(id).map_err(|_| refused())?;
        let key = match (order, key.split_at_checked(1)) {
            (LicenseOrderField::CreatedAt, Some(("c", at))) => {
                Key::Created(DateTime::parse_from_rfc3339(at).map_err(|_| refused())?)
            }
            (LicenseOrderField::ExpiresAt, Some(("e", "~"))) => Key::Expiry(None),
            (LicenseOrderField::ExpiresAt, Some(("e", at))) => Key::Expiry(Some(
                DateTime::parse_from_rfc3339(at).map_err(|_| refused())?,
            )),
            (LicenseOrderField::Utilization, Some(("u", ratio))) => {
                let (used, total) = ratio.split_once('/').ok_or_else(refused)?;
                let used: i32 = used.parse().map_err(|_| refused())?;
                let total: i32 = total.parse().map_err(|_| refused())?;
                if used < 0 || total < 0 {
                    return Err(refused());
                }
                Key::Utilization { used, total }
            }
            (LicenseOrderField::Relevance, Some(("r", rank))) => Key::Relevance(
                rank.parse::<f32>()
                    .ok()
                    .filter(|r| r.is_finite())
                    .ok_or_else(refused)?,
            ),
            _ => return Err(refused()),
        };
        Ok(Self { key, id })
    }
}

/// One index range of a page: rows matching `condition`, in `order` (columns and directions).
pub struct Range {
    pub condition: Condition,
    pub order: Vec<(SimpleExpr, Order)>,
}

fn utilization_of(used: i32, total: i32) -> SimpleExpr {
    // Integers parsed from the cursor: nothing a client sends reaches the SQL as text.
    Expr::cust(format!(
        "(CASE WHEN {total} > 0 THEN {used} * 1.0 / {total} ELSE 0 END)"
    ))
}

fn id() -> SimpleExpr {
    Expr::col((licenses::Entity, licenses::Column::Id))
}

/// The index ranges a page reads, in turn, until it has its rows: one for most orders; two for
/// expiry (licenses with an expiry, then those without, or the reverse). `rank` is the search
/// rank's expression, for the relevance order.
pub fn ranges(
    field: LicenseOrderField,
    direction: OrderDirection,
    after: Option<&After>,
    rank: &SimpleExpr,
) -> Vec<Range> {
    let asc = direction == OrderDirection::Asc;
    let order = if asc { Order::Asc } else { Order::Desc };
    let past = |left: Vec<SimpleExpr>, right: Vec<SimpleExpr>| -> SimpleExpr {
        let (left, right) = (Expr::tuple(left), Expr::tuple(right));
        if asc { left.gt(right) } else { left.lt(right) }
    };
    let past_id = |id: Uuid| -> SimpleExpr {
        if asc {
            licenses::Column::Id.gt(id)
        } else {
            licenses::Column::Id.lt(id)
        }
    };
    match field {
        LicenseOrderField::Relevance => {
            let mut condition = Condition::all();
            if let Some(After {
                key: Key::Relevance(at),
                id: after,
            }) = after
            {
                condition = condition.add(past(
                    vec![rank.clone(), id()],
                    vec![Expr::val(*at), Expr::val(*after)],
                ));
            }
            vec![Range {
                condition,
                order: vec![(rank.clone(), order.clone()), (id(), order)],
            }]
        }
        LicenseOrderField::CreatedAt => {
            let created = || Expr::col((licenses::Entity, licenses::Column::CreatedAt));
            let mut condition = Condition::all();
            if let Some(After {
                key: Key::Created(at),
                id: after,
            }) = after
            {
                condition = condition.add(past(
                    vec![created(), id()],
                    vec![Expr::val(*at), Expr::val(*after)],
                ));
            }
            vec![Range {
                condition,
                order: vec![(created(), order.clone()), (id(), order)],
            }]
        }
        LicenseOrderField::Utilization => {
            let utilization = || Expr::cust(migration::UTILIZATION);
            let mut condition = Condition::all();
            if let Some(After {
                key: Key::Utilization { used, total },
                id: after,
            }) = after
            {
                condition = condition.add(past(
                    vec![utilization(), id()],
                    vec![utilization_of(*used, *total), Expr::val(*after)],
                ));
            }
            vec![Range {
                condition,
                order: vec![(utilization(), order.clone()), (id(), order)],
            }]
        }
        LicenseOrderField::ExpiresAt => {
            let expiring = Expr::col((licenses::Entity, licenses::Column::ExpiresAt));
            let dated = |from: Option<(DateTime<FixedOffset>, Uuid)>| {
                let mut condition = Condition::all().add(licenses::Column::ExpiresAt.is_not_null());
                if let Some((at, after)) = from {
                    condition = condition.add(past(
                        vec![expiring.clone(), id()],
                        vec![Expr::val(at), Expr::val(after)],
                    ));
                }
                Range {
                    condition,
                    order: vec![(expiring.clone(), order.clone()), (id(), order.clone())],
                }
            };
            let perpetual = |from: Option<Uuid>| {
                let mut condition = Condition::all().add(licenses::Column::ExpiresAt.is_null());
                if let Some(after) = from {
                    condition = condition.add(past_id(after));
                }
                Range {
                    condition,
                    order: vec![(id(), order.clone())],
                }
            };
            match (asc, after.map(|a| (&a.key, a.id))) {
                (true, Some((Key::Expiry(None), after))) => vec![perpetual(Some(after))],
                (true, Some((Key::Expiry(Some(at)), after))) => {
                    vec![dated(Some((*at, after))), perpetual(None)]
                }
                (true, _) => vec![dated(None), perpetual(None)],
                (false, Some((Key::Expiry(None), after))) => {
                    vec![perpetual(Some(after)), dated(None)]
                }
                (false, Some((Key::Expiry(Some(at)), after))) => vec![dated(Some((*at, after)))],
                (false, _) => vec![perpetual(None), dated(None)],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_for_their_own_order_only() {
        let id = Uuid::now_v7();
        let at = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.123456+00:00").expect("time");
        for (order, key) in [
            (LicenseOrderField::CreatedAt, Key::Created(at)),
            (LicenseOrderField::ExpiresAt, Key::Expiry(Some(at))),
            (LicenseOrderField::ExpiresAt, Key::Expiry(None)),
            (
                LicenseOrderField::Utilization,
                Key::Utilization { used: 3, total: 7 },
            ),
            (LicenseOrderField::Relevance, Key::Relevance(0.060_792_7)),
            (LicenseOrderField::Relevance, Key::Relevance(1.0 / 3.0)),
        ] {
            let after = After { key, id };
            let cursor = after.encode();
            assert_eq!(After::decode(order, &cursor).expect("decodes"), after);
            let other = if order == LicenseOrderField::CreatedAt {
                LicenseOrderField::Utilization
            } else {
                LicenseOrderField::CreatedAt
            };
            assert!(After::decode(other, &cursor).is_err());
        }
        for garbage in [
            "",
            "nope",
            "dXwtMS8zfGJhZA",
            "dTEvMTt8MDE5YWQyODYtM2JiNS03ZjM1LTgzMDAtMDAwMDAwMDAwMWQ5",
        ] {
            assert!(After::decode(LicenseOrderField::Utilization, garbage).is_err());
        }
    }
}
