//! The log vocabulary, and a log line as an instance sends it.

use crate::vocabulary::text_enum;
use async_graphql::Json;
use chrono::{DateTime, Utc};

text_enum!(
    /// How severe a log line is: DEBUG < INFO < WARN < ERROR.
    #[graphql(name = "InstanceLogLevel")]
    pub enum LogLevel {
        Debug => "debug",
        Info => "info",
        Warn => "warn",
        Error => "error",
    }
);

impl LogLevel {
    /// This level and every more severe one.
    pub fn and_above(self) -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(move |l| **l >= self)
            .map(|l| l.as_str())
    }
}

// One line as the instance sends it (a GraphQL input: a doc comment here would become the
// type's description).
#[derive(async_graphql::InputObject)]
#[graphql(name = "InstanceLogInput")]
pub struct LogEntry {
    pub level: LogLevel,
    /// 1 to 10,000 characters.
    pub message: String,
    /// Any JSON value.
    pub context: Option<Json<serde_json::Value>>,
    /// When it happened; the time of arrival when absent.
    pub logged_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_order_by_severity() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::parse(level.as_str()), Some(*level));
        }
        assert_eq!(LogLevel::parse("fatal"), None);
        let warn_up: Vec<_> = LogLevel::Warn.and_above().collect();
        assert_eq!(warn_up, ["warn", "error"]);
        assert_eq!(LogLevel::Debug.and_above().count(), 4);
    }
}
