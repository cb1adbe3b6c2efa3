//! An API token's scopes, checked on the document before it runs: every field the operation
//! selects, at any depth (root, relation, subscription, through fragments), is answered a value
//! of some type, and the token must hold what that type needs to be read (`scopes::read_need`);
//! a mutation needs its write scope instead (`scopes::write_need`), which covers the object it
//! answers, and the fields below that need their own. One walk per request of a
//! token, nothing per field at run time, and nothing at all for other callers (what a token
//! may see beyond its scopes is its owner's, by the visibility rule).

use crate::auth::Actor;
use crate::auth::scopes::{Need, Scope, Scopes, read_need, write_need};
use crate::error::Code;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
    TypeDefinition, TypeKind, TypeSystemDefinition,
};
use async_graphql::{ErrorExtensionValues, Name, Request, ServerError};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// The schema's object and interface fields with the named type each answers.
pub struct FieldTypes(HashMap<String, HashMap<String, String>>);

impl FieldTypes {
    /// From the schema's SDL (`export_sdl`); a schema that does not parse has no fields, and then
    /// every token request is refused rather than let through.
    pub fn from_sdl(sdl: &str) -> Self {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self(HashMap::new());
        };
        Self(
            document
                .definitions
                .iter()
                .filter_map(|definition| match definition {
                    TypeSystemDefinition::Type(ty) => fields_of(&ty.node),
                    _ => None,
                })
                .collect(),
        )
    }

    /// Every object type's name, for the test that the scope table covers them.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The fields of `type_name`, by name.
    pub fn fields(&self, type_name: &str) -> impl Iterator<Item = &str> {
        self.0
            .get(type_name)
            .into_iter()
            .flat_map(|fields| fields.keys().map(String::as_str))
    }

    fn answer(&self, parent: &str, field: &str) -> Option<&str> {
        Some(self.0.get(parent)?.get(field)?.as_str())
    }
}

fn fields_of(definition: &TypeDefinition) -> Option<(String, HashMap<String, String>)> {
    let fields = match &definition.kind {
        TypeKind::Object(object) => &object.fields,
        TypeKind::Interface(interface) => &interface.fields,
        _ => return None,
    };
    let answers = fields
        .iter()
        .map(|field| {
            (
                field.node.name.node.to_string(),
                named(&field.node.ty.node).to_owned(),
            )
        })
        .collect();
    Some((definition.name.node.to_string(), answers))
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Why a token may not run a document.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It lacks this scope for `field`.
    Scope { field: String, scope: Scope },
    /// `field` is for people only (or not open to tokens at all).
    Person { field: String },
}

impl Refusal {
    pub fn into_server_error(self) -> ServerError {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", Code::Forbidden.as_str());
        let message = match self {
            Refusal::Scope { field, scope } => {
                extensions.set("requiredScope", scope.as_str());
                format!("`{field}` needs the scope `{}`", scope.as_str())
            }
            Refusal::Person { field } => {
                format!("`{field}` is not open to API tokens; sign in as a person")
            }
        };
        let mut err = ServerError::new(message, None);
        err.extensions = Some(extensions);
        err
    }
}

/// The schema's fields, read once from its SDL.
static FIELD_TYPES: LazyLock<FieldTypes> =
    LazyLock::new(|| FieldTypes::from_sdl(&super::export_sdl()));

/// Refuses a request of an API token that reaches past its scopes (FORBIDDEN, naming the scope
/// in `extensions.requiredScope`); other callers pass untouched. After the document limits
/// admitted the request, which parsed its document.
pub fn admit(request: &mut Request, actor: &Actor) -> Result<(), ServerError> {
    let Some(token) = actor.token else {
        return Ok(());
    };
    let operation = request.operation_name.clone();
    let document = request.parsed_query()?;
    check(&FIELD_TYPES, document, operation.as_deref(), token.scopes)
        .map_err(Refusal::into_server_error)
}

pub(super) fn operations<'d>(
    document: &'d ExecutableDocument,
    name: Option<&'d str>,
) -> impl Iterator<Item = OperationType> + 'd {
    let listed: Vec<OperationType> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation.node.ty],
        DocumentOperations::Multiple(operations) => operations
            .iter()
            .filter(|(each, _)| name.is_none_or(|wanted| wanted == each.as_str()))
            .map(|(_, operation)| operation.node.ty)
            .collect(),
    };
    listed.into_iter()
}

/// Whether `scopes` cover the operation `operation_name` of `document` (every operation when
/// none is named and there are several).
pub fn check(
    types: &FieldTypes,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    scopes: Scopes,
) -> Result<(), Refusal> {
    if types.0.is_empty() {
        // Without the schema's fields nothing could be checked: refused, not let through.
        return Err(Refusal::Person {
            field: "any field".to_owned(),
        });
    }
    let walk = Walk {
        types,
        document,
        scopes,
    };
    match &document.operations {
        DocumentOperations::Single(operation) => {
            walk.operation(operation.node.ty, &operation.node.selection_set.node)
        }
        DocumentOperations::Multiple(operations) => {
            for (name, operation) in operations {
                if operation_name.is_none_or(|wanted| wanted == name.as_str()) {
                    walk.operation(operation.node.ty, &operation.node.selection_set.node)?;
                }
            }
            Ok(())
        }
    }
}

struct Walk<'a> {
    types: &'a FieldTypes,
    document: &'a ExecutableDocument,
    scopes: Scopes,
}

impl<'a> Walk<'a> {
    fn operation(&self, ty: OperationType, selection: &'a SelectionSet) -> Result<(), Refusal> {
        let root = match ty {
            OperationType::Query => "QueryRoot",
            OperationType::Mutation => "MutationRoot",
            OperationType::Subscription => "SubscriptionRoot",
        };
        self.selection(root, selection, &mut HashSet::new())
    }

    fn selection(
        &self,
        parent: &str,
        selection: &'a SelectionSet,
        fragments: &mut HashSet<&'a Name>,
    ) -> Result<(), Refusal> {
        for item in &selection.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        // Introspection and `__typename`: the schema is public.
                        continue;
                    }
                    if parent == "MutationRoot" {
                        // A change answers with what it changed: its write scope covers that
                        // object; what hangs off it needs its own scopes.
                        self.need(name, write_need(name))?;
                    }
                    // A field the schema lacks fails validation after this; nothing to check.
                    let Some(answer) = self.types.answer(parent, name) else {
                        continue;
                    };
                    if parent != "MutationRoot" && self.types.0.contains_key(answer) {
                        self.need(name, read_need(answer))?;
                    }
                    self.selection(answer, &field.node.selection_set.node, fragments)?;
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.selection(on, &fragment.node.selection_set.node, fragments)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    // A fragment that spreads itself fails validation; walk each once per path.
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    if !fragments.insert(name) {
                        continue;
                    }
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    let walked = self.selection(on, &fragment.node.selection_set.node, fragments);
                    fragments.remove(name);
                    walked?;
                }
            }
        }
        Ok(())
    }

    fn need(&self, field: &str, need: Option<Need>) -> Result<(), Refusal> {
        match need {
            Some(Need::Nothing) => Ok(()),
            Some(Need::Scope(scope)) if self.scopes.grants(scope) => Ok(()),
            Some(Need::Scope(scope)) => Err(Refusal::Scope {
                field: field.to_owned(),
                scope,
            }),
            Some(Need::Person) | None => Err(Refusal::Person {
                field: field.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scopes::Scope;

    /// Every object type and mutation of the schema is in the scope table, so a field added
    /// later is not open to tokens (or shut to them) by omission.
    #[test]
    fn the_scope_table_covers_every_type_and_mutation() {
        let types = &*FIELD_TYPES;
        let unlisted: Vec<&str> = types
            .type_names()
            .filter(|name| !name.starts_with("__") && read_need(name).is_none())
            .collect();
        assert!(unlisted.is_empty(), "types without a scope: {unlisted:?}");
        let mutations: Vec<&str> = types.fields("MutationRoot").collect();
        assert!(mutations.contains(&"createLicense"), "{mutations:?}");
        let unlisted: Vec<&str> = mutations
            .into_iter()
            .filter(|name| write_need(name).is_none())
            .collect();
        assert!(
            unlisted.is_empty(),
            "mutations without a scope: {unlisted:?}"
        );
    }

    fn parsed(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).expect("parses")
    }

    #[test]
    fn each_field_at_any_depth_needs_its_types_scope() {
        let reader = Scopes::parse(&["licenses:read"]).expect("scopes");
        let check = |query: &str| check(&FIELD_TYPES, &parsed(query), None, reader);
        assert_eq!(
            check("{ licenses { edges { node { id } } } plans { code } }"),
            Ok(())
        );
        assert_eq!(
            check("{ licenses { edges { node { assignments { id } } } } }"),
            Err(Refusal::Scope {
                field: "assignments".into(),
                scope: Scope::SeatsRead
            })
        );
        assert_eq!(
            check(
                "query { ...a } fragment a on QueryRoot { ...b } fragment b on QueryRoot { auditEvents { totalCount } }"
            ),
            Err(Refusal::Scope {
                field: "auditEvents".into(),
                scope: Scope::AuditRead
            })
        );
        // A fragment spreading itself is refused by validation later; the walk ends.
        assert_eq!(
            check("query { ...a } fragment a on QueryRoot { plans { code } ...a }"),
            Ok(())
        );
        let writer = Scopes::parse(&["licenses:write"]).expect("scopes");
        let document = parsed("mutation { revokeLicense(id: \"x\") { id } }");
        assert_eq!(check_with(&document, writer), Ok(()));
        assert_eq!(
            check_with(&document, reader),
            Err(Refusal::Scope {
                field: "revokeLicense".into(),
                scope: Scope::LicensesWrite
            })
        );
        assert_eq!(
            check_with(&parsed("mutation { logout }"), writer),
            Err(Refusal::Person {
                field: "logout".into()
            })
        );
    }

    fn check_with(document: &ExecutableDocument, scopes: Scopes) -> Result<(), Refusal> {
        check(&FIELD_TYPES, document, None, scopes)
    }
}
