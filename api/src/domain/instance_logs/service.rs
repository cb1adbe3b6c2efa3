//! Instance logs: lines an instance writes about itself with its own token. They are data,
//! not state changes, so a batch is one multi-row INSERT with no audit event or publication.

use super::model::LogEntry;
use crate::auth::{Actor, Caller};
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use chrono::SubsecRound;
use entity::{instance_logs, prelude::*};
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;

pub const MAX_ENTRIES: usize = 500;
pub const MAX_MESSAGE_CHARS: usize = 10_000;

fn check(index: usize, entry: &LogEntry) -> AppResult<()> {
    let field = || format!("entries[{index}].message");
    if entry.message.trim().is_empty() {
        return Err(AppError::validation(field(), "must not be empty"));
    }
    if entry.message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::validation(
            field(),
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The instance a caller may append logs for: only an instance token, for its own instance.
fn appending_instance(caller: &Caller) -> AppResult<Uuid> {
    match caller {
        Caller::InstanceToken { instance_id } => Ok(*instance_id),
        Caller::Anonymous => Err(AppError::Unauthenticated(
            "present an instance token to append logs",
        )),
        _ => Err(AppError::Forbidden(
            "only an instance token may append logs",
        )),
    }
}

/// Stores a batch of log lines for the token's instance, all or none. Returns how many.
#[tracing::instrument(skip_all, fields(entries = entries.len()))]
pub async fn append(actor: &Actor, entries: Vec<LogEntry>) -> AppResult<usize> {
    let instance_id = appending_instance(&actor.caller)?;
    if entries.len() > MAX_ENTRIES {
        return Err(AppError::validation(
            "entries",
            format!("at most {MAX_ENTRIES} entries per call"),
        ));
    }
    for (index, entry) in entries.iter().enumerate() {
        check(index, entry)?;
    }
    if entries.is_empty() {
        return Ok(0);
    }
    let count = entries.len();
    // PostgreSQL keeps microseconds; cutting here makes both backends store and order alike.
    let now = actor.now.trunc_subsecs(6);
    let rows = entries.into_iter().map(|entry| instance_logs::ActiveModel {
        id: Set(Uuid::now_v7()),
        instance_id: Set(instance_id),
        level: Set(entry.level.as_str().to_owned()),
        message: Set(entry.message),
        context: Set(entry.context.map(|c| c.0).filter(|c| !c.is_null())),
        logged_at: Set(entry.logged_at.map_or(now, |t| t.trunc_subsecs(6)).into()),
        created_at: Set(now.into()),
    });
    let uow = UnitOfWork::begin(actor).await?;
    InstanceLogs::insert_many(rows).exec(&*uow).await?;
    uow.commit().await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instance_logs::model::LogLevel;

    #[test]
    fn a_bad_entry_is_named_by_its_index() {
        let entry = |message: String| LogEntry {
            level: LogLevel::Info,
            message,
            context: None,
            logged_at: None,
        };
        assert!(check(0, &entry("ok".into())).is_ok());
        assert!(check(0, &entry("é".repeat(MAX_MESSAGE_CHARS))).is_ok());
        for (index, bad) in [(3, " ".to_owned()), (7, "x".repeat(MAX_MESSAGE_CHARS + 1))] {
            match check(index, &entry(bad)) {
                Err(AppError::Validation { field, .. }) => {
                    assert_eq!(field, format!("entries[{index}].message"));
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
    }

    #[test]
    fn only_an_instance_token_may_append() {
        let id = Uuid::now_v7();
        let token = Caller::InstanceToken { instance_id: id };
        assert_eq!(appending_instance(&token).ok(), Some(id));
        let developer = Caller::User {
            id,
            role: crate::auth::Role::Developer,
        };
        assert_eq!(
            appending_instance(&developer)
                .err()
                .map(|e| e.code().as_str()),
            Some("FORBIDDEN")
        );
        assert_eq!(
            appending_instance(&Caller::Anonymous)
                .err()
                .map(|e| e.code().as_str()),
            Some("UNAUTHENTICATED")
        );
    }
}
