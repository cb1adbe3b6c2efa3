//! The `licenses` connection: filters, sorts, search and paging. Developers see their own,
//! members the licenses they hold a seat on.

use super::keyset;
use super::model::{LicenseFilter, LicenseOrder, LicenseOrderField};
use crate::auth::{Actor, Caller, Role};
use crate::domain::seats::model::AssignmentStatus;
use crate::error::{AppError, AppResult};
use crate::paging::{self, Page};
use crate::total_count::{self, Count};
use entity::{license_assignments, licenses, plans, prelude::*};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use std::collections::HashMap;
use uuid::Uuid;

/// At most this many words of a search are used.
const SEARCH_WORDS: usize = 8;

/// The words of a search (letters and digits), lowercased as the search document is.
fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(SEARCH_WORDS)
        .map(str::to_lowercase)
        .collect()
}

/// A search written as keys are (capitals and digits, groups joined by `-`, at least three
/// characters) is also the start of a key: its first group, as far as a key's stored prefix.
fn key_start(text: &str) -> Option<String> {
    let text = text.trim();
    let key_like = text.len() >= 3
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    let start: String = text.split('-').next()?.chars().take(5).collect();
    (key_like && !start.is_empty()).then_some(start)
}

/// Licenses with every word searched among their words (key prefix, DBA, product), whose key
/// starts as the search does (when it is written as a key), or whose plan's code or name holds
/// the text. On PostgreSQL the words are one full-text query on the GIN index and a key start
/// a prefix on its pattern index; the plans matched are looked up first (a few rows), so that
/// the indexes are not defeated by a join.
async fn search_condition(db: &DatabaseConnection, text: &str) -> AppResult<Option<Condition>> {
    let plans: Vec<Uuid> = Plans::find()
        .select_only()
        .column(plans::Column::Id)
        .filter(
            Condition::any()
                .add(plans::Column::Code.contains(text.to_lowercase()))
                .add(plans::Column::Name.contains(text)),
        )
        .into_tuple()
        .all(db)
        .await?;
    let words = search_words(text);
    let mut any = Condition::any();
    if !words.is_empty() {
        any = any.add(if db.get_database_backend() == DbBackend::Postgres {
            // Letters and digits only: nothing in it is tsquery syntax.
            let query = words.join(" & ");
            // Same expression as the GIN index, so the index serves it.
            Condition::all().add(Expr::cust_with_values(
                format!("{} @@ to_tsquery('simple', $1)", migration::SEARCH_DOCUMENT),
                [query],
            ))
        } else {
            let mut all = Condition::all();
            for word in &words {
                let pattern = format!("%{word}%");
                all = all.add(
                    Condition::any()
                        .add(Expr::col(licenses::Column::Dba).like(pattern.clone()))
                        .add(Expr::col(licenses::Column::Product).like(pattern)),
                );
            }
            all
        });
    }
    if let Some(start) = key_start(text) {
        // Capitals and digits only: no LIKE wildcard in it.
        any = any.add(licenses::Column::KeyPrefix.like(format!("{start}%")));
    }
    if !plans.is_empty() {
        any = any.add(licenses::Column::PlanId.is_in(plans));
    }
    Ok((!any.is_empty()).then_some(any))
}

async fn matching(
    db: &DatabaseConnection,
    caller: &Caller,
    filter: &LicenseFilter,
) -> AppResult<Select<Licenses>> {
    let mut condition = Condition::all();
    match caller.require_user()? {
        (_, Role::Admin) => {}
        (id, Role::Developer) => condition = condition.add(licenses::Column::DeveloperId.eq(id)),
        // A member's list is the licenses it holds a seat on, as the visibility rule has it.
        (id, Role::Member) => {
            let seated = Query::select()
                .column(license_assignments::Column::LicenseId)
                .from(license_assignments::Entity)
                .and_where(Expr::col(license_assignments::Column::UserId).eq(id))
                .and_where(
                    Expr::col(license_assignments::Column::Status)
                        .eq(AssignmentStatus::Active.as_str()),
                )
                .to_owned();
            condition = condition.add(licenses::Column::Id.in_subquery(seated));
        }
    }
    if let Some(state) = filter.state {
        condition = condition.add(licenses::Column::State.eq(state.as_str()));
    }
    if let Some(payment) = filter.payment_state {
        condition = condition.add(licenses::Column::PaymentState.eq(payment.as_str()));
    }
    if let Some(term) = filter.term {
        condition = condition.add(licenses::Column::Term.eq(term.as_str()));
    }
    if let Some(product) = &filter.product {
        condition = condition.add(licenses::Column::Product.eq(product.as_str()));
    }
    if let Some(developer) = filter.developer_id {
        condition = condition.add(licenses::Column::DeveloperId.eq(developer));
    }
    if let Some(code) = &filter.plan_code {
        let plan = Query::select()
            .column(plans::Column::Id)
            .from(plans::Entity)
            .and_where(Expr::col(plans::Column::Code).eq(code.trim().to_lowercase()))
            .to_owned();
        condition = condition.add(licenses::Column::PlanId.in_subquery(plan));
    }
    if let Some(before) = filter.expiring_before {
        condition = condition.add(licenses::Column::ExpiresAt.lt(before.fixed_offset()));
    }
    if let Some(after) = filter.created_after {
        condition = condition.add(licenses::Column::CreatedAt.gte(after.fixed_offset()));
    }
    if let Some(before) = filter.created_before {
        condition = condition.add(licenses::Column::CreatedAt.lt(before.fixed_offset()));
    }
    if let Some(text) = searched(filter) {
        condition = match search_condition(db, text).await? {
            Some(found) => condition.add(found),
            // Nothing to search by (only punctuation): nothing matches.
            None => condition.add(Expr::val(false)),
        };
    }
    Ok(Licenses::find().filter(condition))
}

/// The search text, if the filter has one worth searching by.
fn searched(filter: &LicenseFilter) -> Option<&str> {
    filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// How well a license matches the search: PostgreSQL's full-text rank of the words over the
/// same document the index holds; no rank (all equal) on SQLite or without words.
fn search_rank(db: &DatabaseConnection, filter: &LicenseFilter) -> SimpleExpr {
    let words = searched(filter).map(search_words).unwrap_or_default();
    if db.get_database_backend() != DbBackend::Postgres || words.is_empty() {
        return Expr::cust("CAST(0 AS REAL)");
    }
    // Letters and digits only: nothing in it is tsquery syntax.
    Expr::cust_with_values(
        format!(
            "ts_rank({}, to_tsquery('simple', $1))",
            migration::SEARCH_DOCUMENT
        ),
        [words.join(" & ")],
    )
}

/// A license read with its search rank.
#[derive(FromQueryResult)]
struct Ranked {
    #[sea_orm(nested)]
    license: licenses::Model,
    search_rank: f32,
}

/// A page of licenses and, in the relevance order, each one's search rank (for its cursor).
pub struct Listed {
    pub page: Page<licenses::Model>,
    pub ranks: HashMap<Uuid, f32>,
}

/// Ranking reads every match, so a search is ranked only while its matches are few enough to
/// count exactly; past that it is refused rather than left to grow with the table.
async fn check_rankable(
    actor: &Actor,
    matching: &Select<Licenses>,
    filter: &LicenseFilter,
) -> AppResult<()> {
    if searched(filter).is_none() {
        return Err(AppError::validation(
            "orderBy",
            "RELEVANCE orders the matches of a search: give filter.search",
        ));
    }
    let most = actor.app.config.limits.exact_count_limit;
    if total_count::exceeds(&actor.app.db, matching.clone(), most).await? {
        return Err(AppError::validation(
            "search",
            format!(
                "matches more than {most} licenses, too many to rank: narrow the search or order by another field"
            ),
        ));
    }
    Ok(())
}

/// One page after `after` (from the start without), in `sort`'s order, and whether more
/// follow: each of the order's index ranges is read in turn until the page is full.
pub async fn page(
    actor: &Actor,
    filter: &LicenseFilter,
    sort: &LicenseOrder,
    limit: u64,
    after: Option<&keyset::After>,
    also: &[String],
) -> AppResult<Listed> {
    let db = &actor.app.db;
    let matching = matching(db, actor, filter).await?;
    let ranked = sort.field == LicenseOrderField::Relevance;
    if ranked {
        check_rankable(actor, &matching, filter).await?;
    }
    let rank = search_rank(db, filter);
    let mut rows = Vec::new();
    let mut ranks = HashMap::new();
    // Each row's texts of `also` (`PageArgs::also`), while every range could read them.
    let mut texts = Some(Vec::new()).filter(|_| {
        !also.is_empty() && !ranked && db.get_database_backend() == DbBackend::Postgres
    });
    for range in keyset::ranges(sort.field, sort.direction, after, &rank) {
        let wanted = limit + 1 - rows.len() as u64;
        let mut query = matching.clone().filter(range.condition);
        for (expr, order) in range.order {
            query = query.order_by(expr, order);
        }
        if ranked {
            let found = query
                .column_as(rank.clone(), "search_rank")
                .limit(wanted)
                .into_model::<Ranked>()
                .all(db)
                .await?;
            for row in found {
                ranks.insert(row.license.id, row.search_rank);
                rows.push(row.license);
            }
        } else if let Some(read) = texts.as_mut() {
            let (found, found_texts) = paging::with_also(db, query, also, wanted, 0).await?;
            rows.extend(found);
            match found_texts {
                Some(found_texts) => read.extend(found_texts),
                None => texts = None,
            }
        } else {
            rows.extend(query.limit(wanted).all(db).await?);
        }
        if rows.len() as u64 > limit {
            break;
        }
    }
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let mut also = texts.unwrap_or_default();
    also.truncate(limit as usize);
    let page = Page {
        rows,
        has_next,
        has_previous: after.is_some(),
        offset: 0,
        also,
    };
    Ok(Listed { page, ranks })
}

pub async fn count(actor: &Actor, filter: &LicenseFilter) -> AppResult<Count> {
    total_count::count(&actor.app, matching(&actor.app.db, actor, filter).await?).await
}
