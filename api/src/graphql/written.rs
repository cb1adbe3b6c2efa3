//! Answers the gateway writes as JSON text itself, so that a part of the answer that is JSON text
//! already (a shaped relation list, `shaped::write`) goes into it as it is, instead of becoming a
//! tree of values made only to be written out again.
//!
//! Such a part travels through the engine as `Value::Binary` holding its text, which only
//! `batch` here knows how to write. It is made only for requests carrying `Written` (requests
//! whose answer `batch` writes: the HTTP handler's); every other request (a WebSocket's, a test
//! executing the schema) gets values.

use async_graphql::{BatchResponse, Context, Response, Value};
use bytes::Bytes;
use serde::Serialize;

/// Request data: this request's answer is written by `batch`, so parts may be JSON text.
#[derive(Clone, Copy)]
pub struct Written;

/// Whether the field `ctx` resolves may answer with JSON text (`text`).
pub fn accepted(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<Written>().is_some()
}

/// A part of the answer that is JSON text already. The caller vouches that `json` is one JSON
/// value; it is written as it is.
pub fn text(json: Vec<u8>) -> Value {
    Value::Binary(Bytes::from(json))
}

/// The answer as JSON text, as the engine's own serialization writes it (`data`, then
/// `extensions` and `errors` when there are any), parts that are text already copied in.
pub fn batch(answer: &BatchResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    match answer {
        BatchResponse::Single(one) => response(&mut out, one),
        BatchResponse::Batch(many) => {
            out.push(b'[');
            for (index, one) in many.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                response(&mut out, one);
            }
            out.push(b']');
        }
    }
    out
}

/// The same as a string (only UTF-8 goes in: serde_json's text and parts made of it).
pub fn batch_string(answer: &BatchResponse) -> String {
    String::from_utf8(batch(answer))
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

fn response(out: &mut Vec<u8>, one: &Response) {
    out.extend_from_slice(b"{\"data\":");
    value(out, &one.data);
    if !one.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serialized(out, &one.extensions);
    }
    if !one.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serialized(out, &one.errors);
    }
    out.push(b'}');
}

/// `value` as JSON text.
pub fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => serialized(out, number),
        Value::String(text) => serialized(out, text),
        Value::Enum(name) => serialized(out, name.as_str()),
        Value::Binary(json) => out.extend_from_slice(json),
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                self::value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (index, (key, item)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serialized(out, key.as_str());
                out.push(b':');
                self::value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Writing to a vector fails only for values that cannot be JSON (a map with keys that are not
/// strings), which none of these is.
fn serialized(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}
