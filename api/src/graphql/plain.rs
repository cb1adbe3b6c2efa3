//! Objects whose plain fields (read from the object's own row and nothing else: ids, names,
//! counts, times, states) are answered in place.
//!
//! The engine answers every selected field of an object through a boxed future of its own,
//! polled in a set, then folds the results into the object's map; over a list of hundreds of
//! objects that machinery, not the database, is most of the gateway's CPU (bench/RESULTS.md).
//! A `Plain` object reads its plain fields in one pass over the selection and hands only the
//! rest (relations, fields that read the request) to the engine, run concurrently as the engine
//! runs them; fragments on the object's own type are read in the same pass. A relation the type
//! lets PostgreSQL shape (`shaped`) is tried there first. The answer is the
//! engine's: a selection this path does not cover (directives other than the `@skip`/`@include`
//! the engine has already applied, a fragment on another type, one response key twice with a
//! selection under it) goes to the engine whole, and a plain field whose read fails is left to
//! the engine, which raises the error its way.
//!
//! The schema registers no engine extensions (see `limits.rs`): with one registered, the engine
//! would describe each resolved field to it, and fields answered here would not be described.

use super::shaped::{self, ShapedEdge};
use async_graphql::futures_util::FutureExt;
use async_graphql::futures_util::future::join_all;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// The fields of an object type that are read from the object alone (see `plain_fields!`).
pub trait PlainFields {
    /// Their GraphQL names.
    const NAMES: &'static [&'static str];

    /// The answer to `field` read from the object alone, or `None` when the engine is to
    /// resolve it: it is not a plain field, or reading it failed.
    fn plain(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value>;

    /// The relation field `name` as PostgreSQL may shape it (`shaped`), for types that describe
    /// theirs.
    fn shaped(&self, _name: &str) -> Option<ShapedEdge<'_>> {
        None
    }
}

/// The object type `T` (an `#[Object]`), answering its plain fields in place. It is `T` to the
/// schema: same name, same fields.
pub struct Plain<T>(pub T);

impl<T: OutputType + ContainerType + PlainFields> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        answer(ctx, &self.0).await
    }
}

async fn answer<T: ContainerType + PlainFields + Sync>(
    ctx: &ContextSelectionSet<'_>,
    object: &T,
) -> ServerResult<Value> {
    let mut read = Answer {
        values: IndexMap::with_capacity(ctx.item.node.items.len()),
        resolved: Vec::new(),
    };
    if read.read(ctx, object, &ctx.item.node).is_none() {
        return by_engine(ctx, object).await;
    }
    let Answer {
        mut values,
        resolved,
    } = read;
    let results = match resolved.as_slice() {
        [] => Vec::new(),
        [field] => vec![resolved_by_engine(ctx, object, field).await],
        fields => {
            join_all(
                fields
                    .iter()
                    .map(|field| resolved_by_engine(ctx, object, field)),
            )
            .await
        }
    };
    for (field, result) in resolved.into_iter().zip(results) {
        let key = &field.node.response_key().node;
        match result {
            Ok(value) => {
                if let Some(slot) = values.get_mut(key) {
                    *slot = value.unwrap_or_default();
                }
            }
            // As the engine: the error is reported and the key left out.
            Err(err) => {
                ctx.add_error(err);
                values.shift_remove(key);
            }
        }
    }
    Ok(if values.is_empty() {
        Value::Null
    } else {
        Value::Object(values)
    })
}

/// An object's answer being read: each key in selection order, and the fields the engine is
/// to resolve (their keys hold a placeholder until then).
struct Answer<'a> {
    values: IndexMap<Name, Value>,
    resolved: Vec<&'a Positioned<Field>>,
}

impl<'a> Answer<'a> {
    /// Reads the plain fields of `set`, and of the fragments in it, which apply to the object's
    /// type, and lists the other fields for the engine. `None` when the selection needs the
    /// engine's own path: a directive, a fragment on another type, or one key asked for twice
    /// with a selection under it (the engine merges the two). The same plain field asked for
    /// again (clients repeat `id` and `__typename` across fragments) is one answer.
    fn read<T: ContainerType + PlainFields>(
        &mut self,
        ctx: &ContextSelectionSet<'a>,
        object: &T,
        set: &'a SelectionSet,
    ) -> Option<()> {
        let type_name = T::type_name();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if !field.node.directives.is_empty() {
                        return None;
                    }
                    let value = if field.node.name.node == "__typename" {
                        Some(Value::String(object.introspection_type_name().into_owned()))
                    } else {
                        object.plain(ctx, field)
                    };
                    let key = &field.node.response_key().node;
                    if let Some(earlier) = self.values.get(key) {
                        let earlier_resolved = self
                            .resolved
                            .iter()
                            .any(|f| f.node.response_key().node == *key);
                        if earlier_resolved || value.as_ref() != Some(earlier) {
                            return None;
                        }
                        continue;
                    }
                    match value {
                        Some(value) => self.values.insert(key.clone(), value),
                        None => {
                            self.resolved.push(field);
                            self.values.insert(key.clone(), Value::Null)
                        }
                    };
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = ctx
                        .query_env
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    if !spread.node.directives.is_empty()
                        || !fragment.node.directives.is_empty()
                        || fragment.node.type_condition.node.on.node.as_str() != type_name
                    {
                        return None;
                    }
                    self.read(ctx, object, &fragment.node.selection_set.node)?;
                }
                Selection::InlineFragment(fragment) => {
                    let applies = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| condition.node.on.node.as_str() == type_name);
                    if !fragment.node.directives.is_empty() || !applies {
                        return None;
                    }
                    self.read(ctx, object, &fragment.node.selection_set.node)?;
                }
            }
        }
        Some(())
    }
}

/// The whole object resolved by the engine. Boxed, so that the future of every `Plain` object
/// (most of which never take this path) does not carry the engine's inline.
fn by_engine<'a, T: ContainerType>(
    ctx: &'a ContextSelectionSet<'a>,
    object: &'a T,
) -> Pin<Box<dyn Future<Output = ServerResult<Value>> + Send + 'a>> {
    Box::pin(resolve_container(ctx, object))
}

type FieldFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<Option<Value>>> + Send + 'a>>;

/// A field the engine resolves, or a relation PostgreSQL shapes (`shaped`). Boxed, as the
/// engine boxes it: a relation answers objects that may relate back to this one, and an unboxed
/// future would contain itself.
fn resolved_by_engine<'a, T: ContainerType + PlainFields + Sync>(
    ctx: &'a ContextSelectionSet<'a>,
    object: &'a T,
    field: &'a Positioned<Field>,
) -> FieldFuture<'a> {
    Box::pin(async move {
        let ctx = ctx.with_field(field);
        if let Some(edge) = object.shaped(field.node.name.node.as_str())
            && let Some(value) = shaped::answer(&ctx, edge).await
        {
            return Ok(Some(value));
        }
        object.resolve_field(&ctx).await
    })
}

/// A plain field's answer: its method's value (ready at once, as a method that reads only the
/// row is), as the engine would write it.
pub fn value<T: OutputType>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    read: impl Future<Output = T>,
) -> Option<Value> {
    written(ctx, field, &read.now_or_never()?)
}

/// The same for a method that can fail; a failure is left to the engine.
pub fn fallible<T: OutputType>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    read: impl Future<Output = async_graphql::Result<T>>,
) -> Option<Value> {
    written(ctx, field, &read.now_or_never()?.ok()?)
}

fn written<T: OutputType>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    value: &T,
) -> Option<Value> {
    let ctx = ctx.with_selection_set(&field.node.selection_set);
    OutputType::resolve(value, &ctx, field).now_or_never()?.ok()
}

/// `PlainFields` for an object type from its own `#[Object]` methods that read nothing but the
/// object: `"graphqlName" => value(method)`, or `fallible(method)` for one returning `Result`.
/// Each name must be a field of the type (a test checks the names against the schema, and every
/// type's answers against the engine's).
macro_rules! plain_fields {
    ($object:ty { $($name:literal => $read:ident($method:ident)),* $(,)? }) => {
        $crate::graphql::plain::plain_fields!($object { $($name => $read($method)),* } shaped());
    };
    ($object:ty { $($name:literal => $read:ident($method:ident)),* $(,)? } shaped($($shaped:ident)?)) => {
        impl $crate::graphql::plain::PlainFields for $object {
            const NAMES: &'static [&'static str] = &[$($name),*];

            fn plain(
                &self,
                ctx: &async_graphql::ContextSelectionSet<'_>,
                field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
            ) -> Option<async_graphql::Value> {
                let name = field.node.name.node.as_str();
                // `#[Object]` gives each method the field's context as its first argument.
                let field_ctx = ctx.with_field(field);
                match name {
                    $($name => $crate::graphql::plain::$read(ctx, field, self.$method(&field_ctx)),)*
                    _ => None,
                }
            }

            $(
                fn shaped(&self, name: &str) -> Option<$crate::graphql::shaped::ShapedEdge<'_>> {
                    self.$shaped(name)
                }
            )?
        }
    };
}
pub(crate) use plain_fields;
