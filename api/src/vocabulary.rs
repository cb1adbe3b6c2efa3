//! Stored vocabularies: every status, tier, level, role and kind is a typed enum stored as text,
//! and the state machines over them, written as data.
//!
//! `text_enum!` is the one way to declare one. It gives the stored text (`as_str`), reading it
//! back (`parse` for input, `from_stored` for rows, where an unknown value is an internal error
//! and never a silent default), the full list (`ALL`, for the database's CHECK and for tests),
//! serde with the same text, and the GraphQL enum (`ACTIVE`, `PAST_DUE`, ...).

use crate::error::{AppError, AppResult};

/// What every vocabulary declared with `text_enum!` is.
pub trait Vocabulary: Copy + PartialEq + 'static {
    fn as_text(self) -> &'static str;
    /// The value stored as `raw`; `None` for anything else.
    fn from_text(raw: &str) -> Option<Self>;
}

/// A state machine as data: each state with the states it may move to.
pub type Transitions<S> = [(S, &'static [S])];

/// Whether `table` lets `from` move to `to`; INVALID_TRANSITION naming both when it does not.
pub fn check_move<S: Vocabulary>(table: &Transitions<S>, from: S, to: S) -> AppResult<()> {
    let allowed = table
        .iter()
        .find(|(state, _)| *state == from)
        .is_some_and(|(_, targets)| targets.contains(&to));
    if allowed {
        Ok(())
    } else {
        Err(AppError::InvalidTransition {
            from: from.as_text().to_owned(),
            to: to.as_text().to_owned(),
        })
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(
            async_graphql::Enum, serde::Serialize, serde::Deserialize,
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
        )]
        $(#[$meta])*
        $vis enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text, one of the values the column's CHECK admits.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Reads the text back; `None` for anything else.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Reads a stored value: an unknown one means the row and the code disagree.
            pub fn from_stored(raw: &str) -> $crate::error::AppResult<Self> {
                Self::parse(raw).ok_or_else(|| $crate::vocabulary::unknown(stringify!($name), raw))
            }
        }

        impl $crate::vocabulary::Vocabulary for $name {
            fn as_text(self) -> &'static str {
                self.as_str()
            }

            fn from_text(raw: &str) -> Option<Self> {
                Self::parse(raw)
            }
        }
    };
}

pub(crate) use text_enum;

/// The error for a stored value the code does not know.
pub fn unknown(vocabulary: &str, raw: &str) -> AppError {
    AppError::internal(anyhow::anyhow!("unknown stored {vocabulary}: {raw:?}"))
}

#[cfg(test)]
mod tests {
    text_enum!(
        /// A vocabulary for the macro's own tests.
        enum Sample {
            One => "one",
            TwoWords => "two_words",
        }
    );

    #[test]
    fn text_round_trips_and_unknown_stored_values_are_internal_errors() {
        for value in Sample::ALL {
            assert_eq!(Sample::parse(value.as_str()), Some(*value));
            let json = serde_json::to_value(value).expect("serialises");
            assert_eq!(json, serde_json::json!(value.as_str()));
        }
        assert_eq!(Sample::parse("three"), None);
        let err = Sample::from_stored("three").expect_err("unknown");
        assert_eq!(err.code(), crate::error::Code::Internal);
    }
}
