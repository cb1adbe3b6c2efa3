//! The schema as the server describes it to a caller (introspection), and what a test generates
//! from it: a selection of every field of a type to a depth, and the requests that try each
//! argument of a root field with the values a `Filler` proposes. A type or argument added to the
//! schema is walked by these tests without a change to them.

use super::server::TestApp;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

const INTROSPECTION: &str = r#"query Introspection {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types {
      name kind
      fields { name args { ...Input } type { ...Ref } }
      inputFields { ...Input }
      enumValues { name }
      possibleTypes { name }
    }
  }
}
fragment Input on __InputValue { name defaultValue type { ...Ref } }
fragment Ref on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}"#;

/// A type as a field or argument declares it: `[Plan!]!` is NON_NULL of LIST of NON_NULL of
/// `Plan`.
#[derive(Clone, Debug, Deserialize)]
pub struct TypeRef {
    pub kind: String,
    pub name: Option<String>,
    #[serde(rename = "ofType")]
    pub of_type: Option<Box<TypeRef>>,
}

impl TypeRef {
    /// The named type under every wrapper.
    pub fn named(&self) -> &str {
        match (&self.name, &self.of_type) {
            (Some(name), _) => name,
            (None, Some(inner)) => inner.named(),
            (None, None) => panic!("a type reference without a name: {self:?}"),
        }
    }

    pub fn non_null(&self) -> bool {
        self.kind == "NON_NULL"
    }

    /// The type inside a NON_NULL or LIST wrapper.
    pub fn inner(&self) -> &TypeRef {
        self.of_type
            .as_deref()
            .unwrap_or_else(|| panic!("not a wrapper: {self:?}"))
    }

    /// Whether a list is here (under at most a NON_NULL).
    pub fn is_list(&self) -> bool {
        match self.kind.as_str() {
            "NON_NULL" => self.inner().is_list(),
            kind => kind == "LIST",
        }
    }

    /// As a variable declares it: `[InstanceLogInput!]!`.
    pub fn render(&self) -> String {
        match self.kind.as_str() {
            "NON_NULL" => format!("{}!", self.inner().render()),
            "LIST" => format!("[{}]", self.inner().render()),
            _ => self.named().to_owned(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct InputValue {
    pub name: String,
    #[serde(rename = "defaultValue")]
    pub default_value: Option<String>,
    #[serde(rename = "type")]
    pub ty: TypeRef,
}

impl InputValue {
    /// A value must be given: non-null and without a default.
    pub fn required(&self) -> bool {
        self.ty.non_null() && self.default_value.is_none()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Field {
    pub name: String,
    pub args: Vec<InputValue>,
    #[serde(rename = "type")]
    pub ty: TypeRef,
}

#[derive(Clone, Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Clone, Debug, Deserialize)]
struct FullType {
    name: String,
    kind: String,
    fields: Option<Vec<Field>>,
    #[serde(rename = "inputFields")]
    input_fields: Option<Vec<InputValue>>,
    #[serde(rename = "enumValues")]
    enum_values: Option<Vec<Named>>,
    #[serde(rename = "possibleTypes")]
    possible_types: Option<Vec<Named>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Query,
    Mutation,
    Subscription,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Self::Query, Self::Mutation, Self::Subscription];

    pub fn keyword(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// How a walk fills arguments; each test brings its own.
pub trait Filler {
    /// A value that is accepted at this position, for a required argument or input field; for
    /// an optional one (`required` false) only when the test wants it given, seeing the values
    /// already chosen beside it (`beside`). None leaves an optional one out, and makes a field
    /// whose required argument it cannot fill be skipped.
    fn sample(
        &self,
        schema: &Schema,
        name: &str,
        ty: &TypeRef,
        required: bool,
        beside: &Map<String, Value>,
    ) -> Option<Value>;

    /// The values to try at one position: a scalar, an enum, or a whole list (a list's elements
    /// and an input object's fields are tried one by one besides).
    fn probes(&self, schema: &Schema, name: &str, ty: &TypeRef) -> Vec<Value>;
}

/// The schema one caller was shown.
pub struct Schema {
    roots: HashMap<&'static str, String>,
    types: HashMap<String, FullType>,
}

impl Schema {
    /// Introspects the server as the caller holding `token` (anonymous when none).
    pub async fn fetch(app: &TestApp, token: Option<&str>) -> Schema {
        let body = app.graphql(INTROSPECTION, json!({}), token).await;
        assert!(body["errors"].is_null(), "introspection refused: {body}");
        let schema = &body["data"]["__schema"];
        let mut roots = HashMap::new();
        for (op, key) in [
            (Operation::Query, "queryType"),
            (Operation::Mutation, "mutationType"),
            (Operation::Subscription, "subscriptionType"),
        ] {
            if let Some(name) = schema[key]["name"].as_str() {
                roots.insert(op.keyword(), name.to_owned());
            }
        }
        let types: Vec<FullType> =
            serde_json::from_value(schema["types"].clone()).expect("introspected types");
        Schema {
            roots,
            types: types.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }

    fn get(&self, name: &str) -> &FullType {
        self.types
            .get(name)
            .unwrap_or_else(|| panic!("the schema has no type {name}"))
    }

    /// `SCALAR`, `ENUM`, `OBJECT`, `INPUT_OBJECT`, ... of a named type.
    pub fn kind(&self, name: &str) -> &str {
        &self.get(name).kind
    }

    /// The values of an enum, in schema order.
    pub fn enum_values(&self, name: &str) -> Vec<&str> {
        self.get(name)
            .enum_values
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect()
    }

    /// The fields of a root operation type (none when the schema has no such root).
    pub fn root_fields(&self, op: Operation) -> Vec<Field> {
        self.roots
            .get(op.keyword())
            .and_then(|name| self.get(name).fields.clone())
            .unwrap_or_default()
    }

    /// The object types `selection` reaches from the root fields of `op` at `depth`, and the
    /// schema's object types it does not, for reporting what a walk covered.
    pub fn reach(&self, op: Operation, depth: usize) -> (Vec<String>, Vec<String>) {
        let mut reached: HashMap<String, usize> = HashMap::new();
        let mut todo: Vec<(String, usize)> = self
            .root_fields(op)
            .iter()
            .map(|f| (f.ty.named().to_owned(), depth))
            .collect();
        while let Some((name, depth)) = todo.pop() {
            let ty = self.get(&name);
            let deeper = reached.get(&name).is_none_or(|seen| *seen < depth);
            if matches!(ty.kind.as_str(), "SCALAR" | "ENUM") || !deeper {
                continue;
            }
            reached.insert(name.clone(), depth);
            for possible in ty.possible_types.iter().flatten() {
                todo.push((possible.name.clone(), depth));
            }
            for field in ty.fields.iter().flatten() {
                let target = field.ty.named();
                let cost = hop_cost(target);
                if depth >= cost && !field.name.starts_with("__") {
                    todo.push((target.to_owned(), depth - cost));
                }
            }
        }
        let mut all: Vec<String> = self
            .types
            .values()
            .filter(|t| t.kind == "OBJECT" && !t.name.starts_with("__"))
            .map(|t| t.name.clone())
            .collect();
        all.sort_unstable();
        all.retain(|name| !self.roots.values().any(|root| root == name));
        let (mut hit, missed): (Vec<String>, Vec<String>) =
            all.into_iter().partition(|name| reached.contains_key(name));
        hit.sort_unstable();
        (hit, missed)
    }

    /// The arguments (or input fields) `inputs` filled as the filler samples them; None when
    /// a required one cannot be filled.
    pub fn fill(&self, inputs: &[InputValue], filler: &dyn Filler) -> Option<Map<String, Value>> {
        let mut chosen = Map::new();
        for input in inputs {
            let required = input.required();
            match self.sample(&input.name, &input.ty, required, &chosen, filler) {
                Some(value) => {
                    chosen.insert(input.name.clone(), value);
                }
                None if required => return None,
                None => {}
            }
        }
        Some(chosen)
    }

    /// A value for one position: input objects filled field by field, a required list with
    /// one element.
    pub fn sample(
        &self,
        name: &str,
        ty: &TypeRef,
        required: bool,
        beside: &Map<String, Value>,
        filler: &dyn Filler,
    ) -> Option<Value> {
        match ty.kind.as_str() {
            "NON_NULL" => self.sample(name, ty.inner(), true, beside, filler),
            "LIST" if required => self
                .sample(name, ty.inner(), true, &Map::new(), filler)
                .map(|one| json!([one])),
            "LIST" => None,
            _ if self.kind(ty.named()) == "INPUT_OBJECT" => {
                if !required {
                    return None;
                }
                let fields = self
                    .get(ty.named())
                    .input_fields
                    .clone()
                    .unwrap_or_default();
                self.fill(&fields, filler).map(Value::Object)
            }
            _ => filler.sample(self, name, ty, required, beside),
        }
    }

    /// Every value to try at one position: the filler's probes of the position itself, then
    /// for a list each variant of its one element, and for an input object each variant of
    /// one field with the others as sampled.
    pub fn variants(&self, name: &str, ty: &TypeRef, filler: &dyn Filler) -> Vec<Value> {
        match ty.kind.as_str() {
            "NON_NULL" => self.variants(name, ty.inner(), filler),
            "LIST" => {
                let mut out = filler.probes(self, name, ty);
                out.extend(
                    self.variants(name, ty.inner(), filler)
                        .into_iter()
                        .map(|one| json!([one])),
                );
                out
            }
            _ if self.kind(ty.named()) == "INPUT_OBJECT" => {
                let fields = self
                    .get(ty.named())
                    .input_fields
                    .clone()
                    .unwrap_or_default();
                let base = self.fill(&fields, filler).unwrap_or_default();
                let mut out = filler.probes(self, name, ty);
                for field in &fields {
                    for value in self.variants(&field.name, &field.ty, filler) {
                        let mut object = base.clone();
                        object.insert(field.name.clone(), value);
                        out.push(Value::Object(object));
                    }
                }
                out
            }
            _ => filler.probes(self, name, ty),
        }
    }

    /// The argument sets to send to one root field: its arguments as sampled first, then each
    /// variant of one argument with the others as sampled; no set twice. None when a required
    /// argument cannot be sampled.
    pub fn requests(&self, field: &Field, filler: &dyn Filler) -> Option<Vec<Map<String, Value>>> {
        let base = self.fill(&field.args, filler)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut push = |args: Map<String, Value>| {
            if seen.insert(Value::Object(args.clone()).to_string()) {
                out.push(args);
            }
        };
        push(base.clone());
        for arg in &field.args {
            for value in self.variants(&arg.name, &arg.ty, filler) {
                let mut args = base.clone();
                args.insert(arg.name.clone(), value);
                push(args);
            }
        }
        Some(out)
    }

    /// The document asking `field` with the arguments in `args` as variables, selecting its
    /// result to `depth` (see `selection`).
    pub fn document(
        &self,
        op: Operation,
        field: &Field,
        args: &Map<String, Value>,
        depth: usize,
        filler: &dyn Filler,
    ) -> String {
        let given: Vec<&InputValue> = field
            .args
            .iter()
            .filter(|a| args.contains_key(&a.name))
            .collect();
        let declared = given
            .iter()
            .map(|a| format!("${}: {}", a.name, a.ty.render()))
            .collect::<Vec<_>>()
            .join(", ");
        let passed = given
            .iter()
            .map(|a| format!("{}: ${}", a.name, a.name))
            .collect::<Vec<_>>()
            .join(", ");
        let selection = self.selection(field.ty.named(), depth, filler);
        let mut text = format!("{} Walk", op.keyword());
        if !declared.is_empty() {
            text += &format!("({declared})");
        }
        text += &format!(" {{ {}", field.name);
        if !passed.is_empty() {
            text += &format!("({passed})");
        }
        format!("{text} {selection} }}")
    }

    /// Every field of the type `name` (nothing for a scalar or an enum), following object
    /// fields `depth` types deep. Connections and their edges cost no depth (`edges { node }`
    /// is one hop), and a connection's `nodes`, the same rows again, is left out. A field
    /// whose required arguments the filler cannot sample is left out; an abstract type is
    /// selected through each of its possible types.
    pub fn selection(&self, name: &str, depth: usize, filler: &dyn Filler) -> String {
        let ty = self.get(name);
        match ty.kind.as_str() {
            "SCALAR" | "ENUM" => String::new(),
            "UNION" | "INTERFACE" => {
                let parts: Vec<String> = ty
                    .possible_types
                    .iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "... on {} {}",
                            p.name,
                            self.selection(&p.name, depth, filler)
                        )
                    })
                    .collect();
                format!("{{ __typename {} }}", parts.join(" "))
            }
            _ => {
                let fields = ty.fields.clone().unwrap_or_default();
                let is_connection = fields.iter().any(|f| f.name == "edges");
                let mut parts = Vec::new();
                for field in &fields {
                    if field.name.starts_with("__") || (is_connection && field.name == "nodes") {
                        continue;
                    }
                    let target = field.ty.named();
                    let leaf = matches!(self.kind(target), "SCALAR" | "ENUM");
                    let cost = hop_cost(target);
                    if !leaf && depth < cost {
                        continue;
                    }
                    let Some(args) = self.fill(&field.args, filler) else {
                        continue;
                    };
                    let mut part = field.name.clone();
                    if !args.is_empty() {
                        let rendered: Vec<String> = field
                            .args
                            .iter()
                            .filter_map(|a| {
                                args.get(&a.name)
                                    .map(|v| format!("{}: {}", a.name, self.literal(v, &a.ty)))
                            })
                            .collect();
                        part += &format!("({})", rendered.join(", "));
                    }
                    if !leaf {
                        part += " ";
                        part += &self.selection(target, depth - cost, filler);
                    }
                    parts.push(part);
                }
                if parts.is_empty() {
                    parts.push("__typename".into());
                }
                format!("{{ {} }}", parts.join(" "))
            }
        }
    }

    /// A value written into the document, for a nested field's argument.
    pub fn literal(&self, value: &Value, ty: &TypeRef) -> String {
        match (ty.kind.as_str(), value) {
            ("NON_NULL", _) => self.literal(value, ty.inner()),
            ("LIST", Value::Array(items)) => {
                let items: Vec<String> =
                    items.iter().map(|v| self.literal(v, ty.inner())).collect();
                format!("[{}]", items.join(", "))
            }
            ("LIST", one) => self.literal(one, ty.inner()),
            ("ENUM", Value::String(name)) => name.clone(),
            ("INPUT_OBJECT", Value::Object(fields)) => {
                let inputs = self
                    .get(ty.named())
                    .input_fields
                    .clone()
                    .unwrap_or_default();
                let rendered: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| {
                        let field_ty = inputs
                            .iter()
                            .find(|i| &i.name == k)
                            .map(|i| i.ty.clone())
                            .unwrap_or_else(|| panic!("no input field {k}"));
                        format!("{k}: {}", self.literal(v, &field_ty))
                    })
                    .collect();
                format!("{{{}}}", rendered.join(", "))
            }
            (_, value) => plain_literal(value),
        }
    }
}

/// The depth a selection spends entering a type: none for a connection or its edge.
fn hop_cost(target: &str) -> usize {
    usize::from(!(target.ends_with("Connection") || target.ends_with("Edge")))
}

/// A JSON value as a GraphQL literal (object keys bare).
fn plain_literal(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let rendered: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", plain_literal(v)))
                .collect();
            format!("{{{}}}", rendered.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(plain_literal).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
