//! What a developer may be entitled to: every key, its kind, and how a plan's row maps to it.

use entity::plan_entitlements;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How a key's value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum EntitlementKind {
    /// A whole-number ceiling; null is unlimited.
    Limit,
    /// A feature switch.
    Flag,
    /// A named setting (support level, database tier).
    Setting,
}

/// Numeric ceilings a plan carries; `null` means unlimited.
pub const LIMIT_KEYS: &[&str] = &[
    "max_customers",
    "max_workspaces",
    "max_ai_employees",
    "max_team_members",
    "max_runtime_nodes",
    "max_seats",
    "storage_quota_bytes",
    "daily_api_requests",
    "monthly_mail_credits",
    "monthly_letters",
    "monthly_sms_credits",
    "heartbeat_window_seconds",
];

/// Named settings and their allowed values.
pub const SETTING_KEYS: &[(&str, &[&str])] = &[
    (
        "support_level",
        &["community", "email", "priority", "dedicated"],
    ),
    ("db_type", &["shared", "dedicated"]),
];

/// Flags that are not features of the product but of the account.
pub const ACCOUNT_FLAGS: &[&str] = &["white_label_basic", "allow_overage"];

/// Feature flags live under this prefix, e.g. `feature.sso`.
pub const FEATURE_PREFIX: &str = "feature.";

pub fn kind_of(key: &str) -> Option<EntitlementKind> {
    if LIMIT_KEYS.contains(&key) {
        Some(EntitlementKind::Limit)
    } else if ACCOUNT_FLAGS.contains(&key) || feature_name(key).is_some() {
        Some(EntitlementKind::Flag)
    } else if SETTING_KEYS.iter().any(|(k, _)| *k == key) {
        Some(EntitlementKind::Setting)
    } else {
        None
    }
}

/// `sso` for `feature.sso`; feature names are lower-case words joined by `_`.
pub fn feature_name(key: &str) -> Option<&str> {
    let name = key.strip_prefix(FEATURE_PREFIX)?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    valid.then_some(name)
}

/// Enforced inside licensing's own statements straight from the plan, so an override would
/// be shown but not obeyed: refused instead.
pub const NOT_OVERRIDABLE: &[&str] = &["max_runtime_nodes", "heartbeat_window_seconds"];

/// Whether `value` is acceptable as an override of `key`: the reason when it is not.
pub fn check_value(key: &str, value: &Value) -> Result<(), String> {
    if NOT_OVERRIDABLE.contains(&key) {
        return Err(format!("{key} follows the plan and cannot be overridden"));
    }
    match kind_of(key) {
        None => Err(format!("unknown entitlement {key}")),
        Some(EntitlementKind::Limit) => match value {
            Value::Null => Ok(()),
            Value::Number(n) if n.as_i64().is_some_and(|n| n >= 0) => Ok(()),
            _ => Err("a limit is a whole number of at least 0, or null for unlimited".into()),
        },
        Some(EntitlementKind::Flag) => match value {
            Value::Bool(_) => Ok(()),
            _ => Err("a flag is true or false".into()),
        },
        Some(EntitlementKind::Setting) => {
            let allowed = SETTING_KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, values)| *values)
                .unwrap_or_default();
            match value {
                Value::String(s) if allowed.contains(&s.as_str()) => Ok(()),
                _ => Err(format!("must be one of {}", allowed.join(", "))),
            }
        }
    }
}

/// A plan's row as entitlement keys and values.
pub fn from_plan(row: &plan_entitlements::Model) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    let mut put = |key: &str, value: Value| {
        values.insert(key.to_owned(), value);
    };
    put("max_customers", json!(row.max_customers));
    put("max_workspaces", json!(row.max_workspaces));
    put("max_ai_employees", json!(row.max_ai_employees));
    put("max_team_members", json!(row.max_team_members));
    put("max_runtime_nodes", json!(row.max_runtime_nodes));
    put("max_seats", json!(row.max_seats));
    put("storage_quota_bytes", json!(row.storage_quota_bytes));
    put("daily_api_requests", json!(row.daily_api_requests));
    put("monthly_mail_credits", json!(row.monthly_mail_credits));
    put("monthly_letters", json!(row.monthly_letters));
    put("monthly_sms_credits", json!(row.monthly_sms_credits));
    put(
        "heartbeat_window_seconds",
        json!(row.heartbeat_window_seconds),
    );
    put("support_level", json!(row.support_level));
    put("db_type", json!(row.db_type));
    put("white_label_basic", json!(row.white_label_basic));
    put("allow_overage", json!(row.allow_overage));
    if let Value::Object(features) = &row.features {
        for (name, on) in features {
            put(
                &format!("{FEATURE_PREFIX}{name}"),
                json!(on.as_bool() == Some(true)),
            );
        }
    }
    values
}

/// Sets one key on a plan's row, checked by its kind: what an admin writes into a plan version.
/// Unlike an override, every key may be set here; the heartbeat window cannot be unlimited.
pub fn set_on_plan(
    row: &mut plan_entitlements::Model,
    key: &str,
    value: &Value,
) -> Result<(), String> {
    let kind = kind_of(key).ok_or_else(|| format!("unknown entitlement {key}"))?;
    let limit = || -> Result<Option<i64>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_i64().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
                "a limit is a whole number of at least 0, or null for unlimited".into()
            }),
            _ => Err("a limit is a whole number of at least 0, or null for unlimited".into()),
        }
    };
    let small = |n: Option<i64>| -> Result<Option<i32>, String> {
        n.map(|n| i32::try_from(n).map_err(|_| format!("{key} is at most {}", i32::MAX)))
            .transpose()
    };
    let flag = || {
        value
            .as_bool()
            .ok_or_else(|| "a flag is true or false".to_owned())
    };
    match (kind, key) {
        (EntitlementKind::Limit, "max_customers") => row.max_customers = small(limit()?)?,
        (EntitlementKind::Limit, "max_workspaces") => row.max_workspaces = small(limit()?)?,
        (EntitlementKind::Limit, "max_ai_employees") => row.max_ai_employees = small(limit()?)?,
        (EntitlementKind::Limit, "max_team_members") => row.max_team_members = small(limit()?)?,
        (EntitlementKind::Limit, "max_runtime_nodes") => row.max_runtime_nodes = small(limit()?)?,
        (EntitlementKind::Limit, "max_seats") => row.max_seats = small(limit()?)?,
        (EntitlementKind::Limit, "storage_quota_bytes") => row.storage_quota_bytes = limit()?,
        (EntitlementKind::Limit, "daily_api_requests") => row.daily_api_requests = limit()?,
        (EntitlementKind::Limit, "monthly_mail_credits") => row.monthly_mail_credits = limit()?,
        (EntitlementKind::Limit, "monthly_letters") => row.monthly_letters = limit()?,
        (EntitlementKind::Limit, "monthly_sms_credits") => row.monthly_sms_credits = limit()?,
        (EntitlementKind::Limit, "heartbeat_window_seconds") => {
            row.heartbeat_window_seconds = small(limit()?)?
                .filter(|seconds| (30..=86_400).contains(seconds))
                .ok_or("the heartbeat window is 30 to 86400 seconds")?;
        }
        (EntitlementKind::Flag, "white_label_basic") => row.white_label_basic = flag()?,
        (EntitlementKind::Flag, "allow_overage") => row.allow_overage = flag()?,
        (EntitlementKind::Flag, _) => {
            let name = feature_name(key).ok_or_else(|| format!("unknown entitlement {key}"))?;
            let on = flag()?;
            let features = match &mut row.features {
                Value::Object(features) => features,
                other => {
                    *other = json!({});
                    other.as_object_mut().ok_or("features are not an object")?
                }
            };
            if !features.contains_key(name) && features.len() >= MAX_PLAN_FEATURES {
                return Err(format!("a plan has at most {MAX_PLAN_FEATURES} features"));
            }
            features.insert(name.to_owned(), json!(on));
        }
        (EntitlementKind::Setting, _) => {
            check_value(key, value)?;
            let text = value.as_str().unwrap_or_default().to_owned();
            match key {
                "support_level" => row.support_level = text,
                _ => row.db_type = text,
            }
        }
        _ => return Err(format!("unknown entitlement {key}")),
    }
    Ok(())
}

/// Feature flags one plan may carry.
pub const MAX_PLAN_FEATURES: usize = 64;

/// What a developer without a usable license gets: nothing metered, no features.
pub fn without_plan() -> BTreeMap<String, Value> {
    let mut values: BTreeMap<String, Value> = LIMIT_KEYS
        .iter()
        .map(|k| ((*k).to_owned(), json!(0)))
        .collect();
    values.insert("heartbeat_window_seconds".into(), json!(600));
    values.insert("support_level".into(), json!("community"));
    values.insert("db_type".into(), json!("shared"));
    for flag in ACCOUNT_FLAGS {
        values.insert((*flag).to_owned(), json!(false));
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_kind() {
        assert!(check_value("max_seats", &json!(5)).is_ok());
        assert!(check_value("max_seats", &Value::Null).is_ok());
        assert!(check_value("max_seats", &json!(-1)).is_err());
        assert!(check_value("max_seats", &json!("5")).is_err());
        assert!(check_value("feature.sso", &json!(true)).is_ok());
        assert!(check_value("feature.sso", &json!(1)).is_err());
        assert!(check_value("feature.Bad-Name", &json!(true)).is_err());
        assert!(check_value("support_level", &json!("priority")).is_ok());
        assert!(check_value("support_level", &json!("gold")).is_err());
        assert!(check_value("no_such_key", &json!(1)).is_err());
        assert!(check_value("max_runtime_nodes", &json!(1)).is_err());
    }
}
