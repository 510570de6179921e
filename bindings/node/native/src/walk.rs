//! Reads a JavaScript value into a `serde_json::Value` through Node-API, with the same rules as
//! the JavaScript encoder (`src/encode.ts`): own enumerable string keys of plain objects only,
//! finite numbers, well-formed strings, no `undefined`, functions, symbols or BigInts, at most
//! 64 levels. Kept as the measured alternative to encoding in JavaScript (see README.md); a
//! getter that throws leaves its exception pending, which the JavaScript caller turns into an
//! `invalid_action` deny.

use napi::bindgen_prelude::{
    FromNapiValue, JsObjectValue, JsValue, KeyCollectionMode, KeyConversion, KeyFilter, Object,
    Unknown,
};
use napi::{Env, JsString, ValueType};
use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 64;

/// Why a value is not JSON, and where (path segments collected innermost first).
pub struct WalkError {
    reason: String,
    path: Vec<String>,
}

impl WalkError {
    fn new(reason: impl Into<String>) -> Self {
        WalkError {
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

impl From<WalkError> for String {
    fn from(error: WalkError) -> String {
        let path: String = error.path.iter().rev().map(String::as_str).collect();
        let path = match path.strip_prefix('.') {
            Some(inner) => inner.to_owned(),
            None if path.is_empty() => "action".to_owned(),
            None => format!("action{path}"),
        };
        format!("{path}: {}", error.reason)
    }
}

impl From<napi::Error> for WalkError {
    fn from(error: napi::Error) -> Self {
        WalkError::new(format!("could not be read ({})", error.reason))
    }
}

/// Converts `value` to JSON, or says which part of it is not JSON.
pub fn to_json_value(env: &Env, value: Unknown<'_>) -> Result<Value, String> {
    let walker = Walker {
        env,
        object_prototype: object_prototype(env).map_err(WalkError::from)?,
    };
    Ok(walker.value(value, 1)?)
}

fn object_prototype<'env>(env: &'env Env) -> napi::Result<Unknown<'env>> {
    // `Object` is a function; read it as an object without the type check.
    let object: Object<'_> = env.get_global()?.get_named_property_unchecked("Object")?;
    object.get_named_property("prototype")
}

struct Walker<'a, 'env> {
    env: &'a Env,
    object_prototype: Unknown<'env>,
}

impl Walker<'_, '_> {
    fn value(&self, value: Unknown<'_>, depth: usize) -> Result<Value, WalkError> {
        match value.get_type()? {
            ValueType::Null => Ok(Value::Null),
            ValueType::Boolean => Ok(Value::Bool(bool::from_unknown(value)?)),
            ValueType::Number => {
                // -0 becomes 0, as in JSON text.
                let number = f64::from_unknown(value)? + 0.0;
                Number::from_f64(number)
                    .map(Value::Number)
                    .ok_or_else(|| WalkError::new(format!("{number} is not a finite number")))
            }
            ValueType::String => {
                // UTF-16, because the UTF-8 read replaces a lone surrogate with U+FFFD.
                let units = JsString::from_unknown(value)?.into_utf16()?;
                units
                    .as_str()
                    .map(Value::String)
                    .map_err(|_| WalkError::new("a string with a lone surrogate is not valid"))
            }
            ValueType::Object => self.object(Object::from_unknown(value)?, depth),
            ValueType::Undefined => Err(WalkError::new("undefined is not a JSON value")),
            ValueType::Function => Err(WalkError::new("a function is not a JSON value")),
            ValueType::Symbol => Err(WalkError::new("a symbol is not a JSON value")),
            ValueType::BigInt => Err(WalkError::new("a BigInt is not a JSON value")),
            other => Err(WalkError::new(format!("a {other} is not a JSON value"))),
        }
    }

    fn object(&self, object: Object<'_>, depth: usize) -> Result<Value, WalkError> {
        if depth > MAX_DEPTH {
            return Err(WalkError::new(format!(
                "nested deeper than {MAX_DEPTH} levels (or a cycle)"
            )));
        }
        if object.is_array()? {
            let length = object.get_array_length()?;
            let mut items = Vec::with_capacity(length as usize);
            for index in 0..length {
                if !object.has_own_property_js(self.env.create_string(index.to_string())?)? {
                    return Err(WalkError::new("an array hole is not a JSON value")
                        .at(format!("[{index}]")));
                }
                let item: Unknown<'_> = object.get_element(index)?;
                items.push(
                    self.value(item, depth + 1)
                        .map_err(|e| e.at(format!("[{index}]")))?,
                );
            }
            return Ok(Value::Array(items));
        }
        let prototype = object.get_prototype()?;
        if prototype.get_type()? != ValueType::Null
            && !self.env.strict_equals(prototype, self.object_prototype)?
        {
            return Err(WalkError::new(
                "only plain objects and arrays are JSON values",
            ));
        }
        let keys: Object<'_> = object.get_all_property_names(
            KeyCollectionMode::OwnOnly,
            KeyFilter::Enumerable,
            KeyConversion::NumbersToStrings,
        )?;
        let count = keys.get_array_length()?;
        let mut map = Map::new();
        for index in 0..count {
            let key: Unknown<'_> = keys.get_element(index)?;
            if key.get_type()? != ValueType::String {
                return Err(WalkError::new("a symbol key is not valid in JSON"));
            }
            let units = JsString::from_unknown(key)?.into_utf16()?;
            let name = units
                .as_str()
                .map_err(|_| WalkError::new("a key with a lone surrogate is not valid"))?;
            let item: Unknown<'_> = object.get_property(key)?;
            let item = self
                .value(item, depth + 1)
                .map_err(|e| e.at(format!(".{name}")))?;
            map.insert(name, item);
        }
        Ok(Value::Object(map))
    }
}
