//! Measures of a GraphQL document taken before it runs: its size in tokens, how often one field
//! is asked for in one selection, and every text and list it carries (variables and literal
//! arguments alike). Each is a pure function over the request, so the limits that use them
//! (`limits.rs`, the HTTP batch rule) cost no execution.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Value, Variables};
use std::collections::{HashMap, HashSet};

/// Fields that run an expensive or guarded door (a password hash, a mail): once per document.
pub const DOORS: &[&str] = &[
    "login",
    "signup",
    "acceptInvitation",
    "requestPasswordReset",
    "resetPassword",
    "changePassword",
    "verifyEmail",
    "inviteMember",
];

/// How many lexical tokens `query` holds (names, numbers, strings and punctuators; commas,
/// white space and comments are not tokens).
pub fn token_count(query: &str) -> usize {
    let bytes = query.as_bytes();
    let mut count = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => at += 1,
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at += 3;
                while at < bytes.len() && !bytes[at..].starts_with(b"\"\"\"") {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 3;
                count += 1;
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
                count += 1;
            }
            b'.' if bytes[at..].starts_with(b"...") => {
                at += 3;
                count += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric()
                        || matches!(bytes[at], b'_' | b'-' | b'.' | b'+'))
                {
                    at += 1;
                }
                count += 1;
            }
            _ => {
                at += 1;
                count += 1;
            }
        }
    }
    count
}

/// A limit a document broke: what to tell the client, and which input, if one is to blame.
#[derive(Debug, PartialEq)]
pub struct Breach {
    pub message: String,
    pub field: Option<String>,
}

/// Every text at most `max_chars` characters and free of NUL; every list at most `max_len`.
pub struct InputBounds {
    pub max_chars: usize,
    pub max_len: usize,
}

impl InputBounds {
    /// Checks the variables and every literal argument of the document.
    pub fn check(
        &self,
        variables: &Variables,
        document: &ExecutableDocument,
    ) -> Result<(), Breach> {
        let mut arguments = Vec::new();
        // A variable passed straight as an argument is named after the argument, as the
        // services name their inputs.
        let mut argument_of: HashMap<String, String> = HashMap::new();
        each_selection_set(document, &mut |set| {
            for item in &set.items {
                if let Selection::Field(field) = &item.node {
                    for (name, value) in &field.node.arguments {
                        if let Some(variable) = value.node.to_string().strip_prefix('$') {
                            argument_of
                                .entry(variable.to_owned())
                                .or_insert_with(|| name.node.to_string());
                        }
                        // Variables are checked below; here they stand for nothing.
                        let literal = value
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, ()>(Value::Null))
                            .unwrap_or(Value::Null);
                        arguments.push((name.node.to_string(), literal));
                    }
                }
            }
        });
        for (name, value) in variables.iter() {
            let path = argument_of
                .get(name.as_str())
                .cloned()
                .unwrap_or_else(|| name.to_string());
            self.check_value(path, value)?;
        }
        for (name, value) in arguments {
            self.check_value(name, &value)?;
        }
        Ok(())
    }

    fn check_value(&self, path: String, value: &Value) -> Result<(), Breach> {
        match value {
            Value::String(text) => self.check_text(path, text),
            Value::Enum(name) => self.check_text(path, name.as_str()),
            Value::List(items) => {
                if items.len() > self.max_len {
                    return Err(Breach {
                        message: format!("at most {} items", self.max_len),
                        field: Some(path),
                    });
                }
                for (index, item) in items.iter().enumerate() {
                    self.check_value(format!("{path}[{index}]"), item)?;
                }
                Ok(())
            }
            Value::Object(fields) => {
                if fields.len() > self.max_len {
                    return Err(Breach {
                        message: format!("at most {} fields", self.max_len),
                        field: Some(path),
                    });
                }
                for (name, item) in fields {
                    self.check_text(format!("{path}.{name}"), name.as_str())?;
                    self.check_value(format!("{path}.{name}"), item)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_text(&self, path: String, text: &str) -> Result<(), Breach> {
        if text.contains('\0') {
            return Err(Breach {
                message: "text may not contain NUL".into(),
                field: Some(path),
            });
        }
        // Bytes bound characters from above: count characters only for long texts.
        if text.len() > self.max_chars && text.chars().count() > self.max_chars {
            return Err(Breach {
                message: format!("at most {} characters", self.max_chars),
                field: Some(path),
            });
        }
        Ok(())
    }
}

/// Refuses a field asked for more than `max` times in one selection (aliases, inline fragments
/// and fragment spreads merged), and a door (`DOORS`) asked for more than once in a document.
pub fn check_repetition(document: &ExecutableDocument, max: usize) -> Result<(), Breach> {
    let mut doors: HashMap<String, usize> = HashMap::new();
    let mut breach = None;
    each_selection_set(document, &mut |set| {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        merged_fields(set, &document.fragments, &mut HashSet::new(), &mut counts);
        for (name, count) in counts {
            if DOORS.contains(&name) {
                *doors.entry(name.to_owned()).or_default() += count;
            }
            if count > max && breach.is_none() {
                breach = Some(Breach {
                    message: format!(
                        "`{name}` is asked for {count} times in one selection; the limit is {max}"
                    ),
                    field: None,
                });
            }
        }
    });
    if let Some(breach) = breach {
        return Err(breach);
    }
    match doors.into_iter().find(|(_, count)| *count > 1) {
        Some((name, count)) => Err(Breach {
            message: format!("`{name}` may be asked for once a document, not {count} times"),
            field: None,
        }),
        None => Ok(()),
    }
}

/// Whether every operation of the document asks only for introspection (`__schema`, `__type`,
/// `__typename`) at its root.
pub fn introspects_only(document: &ExecutableDocument) -> bool {
    let root_is_introspection = |set: &SelectionSet| {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(field) => field.node.name.node.starts_with("__"),
            _ => false,
        })
    };
    match &document.operations {
        DocumentOperations::Single(op) => root_is_introspection(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops
            .values()
            .all(|op| root_is_introspection(&op.node.selection_set.node)),
    }
}

/// How deeply fields nest in the document's operations, fragments looked through, as the
/// engine's validation counts it; counted no further than `cap` (all a limit needs to know), and
/// a fragment already being looked through is not entered again.
pub fn field_depth(document: &ExecutableDocument, cap: usize) -> usize {
    let of = |set: &SelectionSet| set_depth(set, &document.fragments, &mut HashSet::new(), cap);
    match &document.operations {
        DocumentOperations::Single(op) => of(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops
            .values()
            .map(|op| of(&op.node.selection_set.node))
            .max()
            .unwrap_or(0),
    }
}

fn set_depth<'a>(
    set: &'a SelectionSet,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    entered: &mut HashSet<&'a str>,
    cap: usize,
) -> usize {
    if cap == 0 {
        return 0;
    }
    let mut deepest = 0;
    for item in &set.items {
        let depth = match &item.node {
            Selection::Field(field) => {
                1 + set_depth(&field.node.selection_set.node, fragments, entered, cap - 1)
            }
            Selection::InlineFragment(inline) => {
                set_depth(&inline.node.selection_set.node, fragments, entered, cap)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match fragments.get(spread.node.fragment_name.node.as_str()) {
                    Some(fragment) if entered.insert(name) => {
                        let depth =
                            set_depth(&fragment.node.selection_set.node, fragments, entered, cap);
                        entered.remove(name);
                        depth
                    }
                    _ => 0,
                }
            }
        };
        deepest = deepest.max(depth);
        if deepest >= cap {
            break;
        }
    }
    deepest
}

/// How often each field name is selected in `set`, looking through its fragments.
fn merged_fields<'a>(
    set: &'a SelectionSet,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    seen: &mut HashSet<&'a str>,
    counts: &mut HashMap<&'a str, usize>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                *counts.entry(field.node.name.node.as_str()).or_default() += 1
            }
            Selection::InlineFragment(inline) => {
                merged_fields(&inline.node.selection_set.node, fragments, seen, counts);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                // A fragment spread twice counts once here (the engine merges it); a cycle
                // is refused by validation later and must not loop here.
                if seen.insert(name)
                    && let Some(fragment) = fragments.get(&spread.node.fragment_name.node)
                {
                    merged_fields(&fragment.node.selection_set.node, fragments, seen, counts);
                }
            }
        }
    }
}

/// Calls `visit` on every selection set of the document: its operations' and its fragments',
/// at every depth.
fn each_selection_set<'a>(
    document: &'a ExecutableDocument,
    visit: &mut impl FnMut(&'a SelectionSet),
) {
    fn walk<'a>(set: &'a SelectionSet, visit: &mut impl FnMut(&'a SelectionSet)) {
        visit(set);
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => walk(&field.node.selection_set.node, visit),
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, visit),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    match &document.operations {
        DocumentOperations::Single(op) => walk(&op.node.selection_set.node, visit),
        DocumentOperations::Multiple(ops) => {
            for op in ops.values() {
                walk(&op.node.selection_set.node, visit);
            }
        }
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set.node, visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn doc(query: &str) -> ExecutableDocument {
        parse_query(query).expect("parses")
    }

    #[test]
    fn depth_counts_fields_through_fragments_and_stops_at_the_cap() {
        assert_eq!(field_depth(&doc("{ a { b { c } } d }"), 10), 3);
        assert_eq!(
            field_depth(
                &doc("{ a { ...F } } fragment F on T { b { ... on T { c } } }"),
                10
            ),
            3
        );
        assert_eq!(field_depth(&doc("{ a { b { c { d } } } }"), 2), 2);
        // A fragment that spreads itself is not entered twice.
        assert_eq!(
            field_depth(&doc("{ a { ...F } } fragment F on T { b ...F }"), 10),
            2
        );
        assert_eq!(
            field_depth(&doc("query A { a } query B { b { c } }"), 10),
            2
        );
    }

    #[test]
    fn tokens_are_counted_without_commas_comments_or_white_space() {
        assert_eq!(token_count("{ a }"), 3);
        assert_eq!(
            token_count("query Q($x: Int = 3) { a(x: $x), b # c d e\n }"),
            20
        );
        assert_eq!(token_count(r#"{ a(s: "x, y # z") }"#), 8);
        assert_eq!(token_count("{ ...F } fragment F on Q { a }"), 11);
    }

    #[test]
    fn one_field_asked_for_too_often_is_refused_through_fragments_too() {
        let many = format!(
            "{{ {} }}",
            (0..11)
                .map(|n| format!("a{n}: me {{ id }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(check_repetition(&doc(&many), 10).is_err());
        assert!(check_repetition(&doc("{ a: me { id } b: me { id } }"), 10).is_ok());
        let spread = "{ ...F ...G } fragment F on Query { a: me { id } b: me { id } } fragment G on Query { c: me { id } }";
        assert!(check_repetition(&doc(spread), 2).is_err());
        assert!(check_repetition(&doc(spread), 3).is_ok());
    }

    #[test]
    fn only_documents_whose_roots_all_introspect_are_introspection() {
        assert!(introspects_only(&doc(
            "{ __schema { types { name } } __typename }"
        )));
        assert!(!introspects_only(&doc(
            "{ __schema { types { name } } plans { code } }"
        )));
        assert!(!introspects_only(&doc(
            "{ ...F } fragment F on Query { __typename }"
        )));
    }

    #[test]
    fn a_door_is_asked_for_once_a_document() {
        let twice = r#"mutation { a: login(email: "a", password: "b") { accessToken } b: login(email: "a", password: "c") { accessToken } }"#;
        let breach = check_repetition(&doc(twice), 10).expect_err("refused");
        assert!(breach.message.contains("login"), "{}", breach.message);
    }

    #[test]
    fn texts_and_lists_are_bounded_in_variables_and_literals() {
        let bounds = InputBounds {
            max_chars: 5,
            max_len: 2,
        };
        let query = doc("{ a(x: \"ok\") }");
        assert!(bounds.check(&Variables::default(), &query).is_ok());
        let long = doc("{ a(x: \"too long\") }");
        assert_eq!(
            bounds
                .check(&Variables::default(), &long)
                .expect_err("long")
                .field
                .as_deref(),
            Some("x")
        );
        let nul = Variables::from_json(serde_json::json!({ "input": { "name": "a\u{0}b" } }));
        let breach = bounds.check(&nul, &query).expect_err("nul");
        assert_eq!(breach.field.as_deref(), Some("input.name"));
        let passed = doc("query($v: In) { a(input: $v) }");
        let nul = Variables::from_json(serde_json::json!({ "v": { "name": "a\u{0}b" } }));
        let breach = bounds.check(&nul, &passed).expect_err("nul");
        assert_eq!(
            breach.field.as_deref(),
            Some("input.name"),
            "named after the argument"
        );
        let list = Variables::from_json(serde_json::json!({ "ids": [1, 2, 3] }));
        assert_eq!(
            bounds
                .check(&list, &query)
                .expect_err("list")
                .field
                .as_deref(),
            Some("ids")
        );
    }
}
