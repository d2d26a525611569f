//! Additional fields as they come out of SQL and as Better Auth's JSON gives them.
//!
//! Every dialect returns a field as text (`CAST(.. AS TEXT)`, `CAST(.. AS CHAR)`) or, for dates,
//! as epoch milliseconds, so one decoder serves SQLite, PostgreSQL and MySQL: booleans arrive as
//! `true`/`false` (PostgreSQL) or `1`/`0` (SQLite, MySQL), numbers as their decimal text, and
//! `string[]`, `number[]` and `json` (jsonb, json or text holding JSON, as Better Auth stores
//! them) as JSON text. A value that does not read as its type is kept as a string rather than
//! lost.

use serde_json::{Number, Value};

use crate::config::FieldType;
use crate::time::Timestamp;

/// The JSON value of a non-date field read as text (`None` for SQL NULL).
pub(crate) fn from_text(field_type: FieldType, text: Option<String>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let typed = match field_type {
        FieldType::String | FieldType::Date => None,
        FieldType::Number => number(&text),
        FieldType::Boolean => match text.as_str() {
            "true" | "t" | "1" => Some(Value::Bool(true)),
            "false" | "f" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        FieldType::StringArray | FieldType::NumberArray | FieldType::Json => {
            serde_json::from_str(&text).ok()
        }
    };
    typed.unwrap_or(Value::String(text))
}

/// The JSON value of a date field read as epoch milliseconds: `JSON.stringify(Date)`'s string.
pub(crate) fn from_millis(millis: Option<i64>) -> Value {
    millis.map_or(Value::Null, |ms| {
        Value::String(Timestamp::from_millis(ms).to_iso())
    })
}

/// A number as JavaScript would hold it: integers exactly, anything else as a double.
fn number(text: &str) -> Option<Value> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::Number(n.into()));
    }
    let f = text.parse::<f64>().ok()?;
    // JSON.stringify writes integral doubles without a fraction (`2.0` as `2`).
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return Some(Value::Number((f as i64).into()));
    }
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_type_from_every_dialects_text() {
        let t = |ty, text: &str| from_text(ty, Some(text.to_owned()));
        assert_eq!(t(FieldType::String, "R&D"), json!("R&D"));
        assert_eq!(t(FieldType::Number, "42"), json!(42));
        assert_eq!(t(FieldType::Number, "-1.5"), json!(-1.5));
        assert_eq!(
            t(FieldType::Number, "2.0"),
            json!(2),
            "as JSON.stringify writes it"
        );
        for yes in ["true", "t", "1"] {
            assert_eq!(t(FieldType::Boolean, yes), json!(true));
        }
        for no in ["false", "f", "0"] {
            assert_eq!(t(FieldType::Boolean, no), json!(false));
        }
        assert_eq!(
            t(FieldType::StringArray, r#"["a", "b"]"#),
            json!(["a", "b"])
        );
        assert_eq!(t(FieldType::NumberArray, "[1,2.5]"), json!([1, 2.5]));
        assert_eq!(
            t(FieldType::Json, r#"{"k": [1, null]}"#),
            json!({"k": [1, null]})
        );
        assert_eq!(from_text(FieldType::Number, None), Value::Null);
        assert_eq!(from_millis(None), Value::Null);
        assert_eq!(from_millis(Some(0)), json!("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn values_that_are_not_their_type_are_kept_as_text() {
        let t = |ty, text: &str| from_text(ty, Some(text.to_owned()));
        assert_eq!(t(FieldType::Number, "n/a"), json!("n/a"));
        assert_eq!(t(FieldType::Boolean, "yes"), json!("yes"));
        assert_eq!(t(FieldType::Json, "{broken"), json!("{broken"));
    }
}
