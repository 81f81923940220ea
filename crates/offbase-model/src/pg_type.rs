//! The PostgreSQL column types offbase writes and knows how to load into. Mapping files name
//! them as SQL (`numeric(12,2)`, `text[]`); this module parses and prints that spelling.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgType {
    Text,
    Varchar(Option<u32>),
    Uuid,
    Boolean,
    Smallint,
    Integer,
    Bigint,
    Real,
    DoublePrecision,
    /// `numeric`, optionally with precision and scale.
    Numeric(Option<(u32, u32)>),
    Timestamptz,
    Timestamp,
    Date,
    Time,
    Jsonb,
    Json,
    /// A one-dimensional array of a scalar type.
    Array(Box<PgType>),
    /// A PostgreSQL enum type created by the plan (its name).
    Enum(String),
}

impl PgType {
    /// Whether the type holds JSON documents.
    pub fn is_json(&self) -> bool {
        matches!(self, PgType::Jsonb | PgType::Json)
    }

    /// Whether values of the type are written as quoted text literals in SQL (`'x'`).
    pub fn is_textual(&self) -> bool {
        matches!(self, PgType::Text | PgType::Varchar(_) | PgType::Enum(_))
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, PgType::Smallint | PgType::Integer | PgType::Bigint)
    }

    pub fn is_numeric(&self) -> bool {
        self.is_integer()
            || matches!(
                self,
                PgType::Real | PgType::DoublePrecision | PgType::Numeric(_)
            )
    }

    /// The integer range a value must fit in, for integer types.
    pub fn integer_range(&self) -> Option<(i64, i64)> {
        match self {
            PgType::Smallint => Some((i16::MIN.into(), i16::MAX.into())),
            PgType::Integer => Some((i32::MIN.into(), i32::MAX.into())),
            PgType::Bigint => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    /// The element type of an array type.
    pub fn element(&self) -> Option<&PgType> {
        match self {
            PgType::Array(element) => Some(element),
            _ => None,
        }
    }

    /// The SQL spelling, as PostgreSQL's `format_type` prints it (so a catalog read-back
    /// compares equal), except that enum names are left unquoted.
    pub fn sql(&self) -> String {
        match self {
            PgType::Text => "text".into(),
            PgType::Varchar(None) => "character varying".into(),
            PgType::Varchar(Some(length)) => format!("character varying({length})"),
            PgType::Uuid => "uuid".into(),
            PgType::Boolean => "boolean".into(),
            PgType::Smallint => "smallint".into(),
            PgType::Integer => "integer".into(),
            PgType::Bigint => "bigint".into(),
            PgType::Real => "real".into(),
            PgType::DoublePrecision => "double precision".into(),
            PgType::Numeric(None) => "numeric".into(),
            PgType::Numeric(Some((precision, scale))) => format!("numeric({precision},{scale})"),
            PgType::Timestamptz => "timestamp with time zone".into(),
            PgType::Timestamp => "timestamp without time zone".into(),
            PgType::Date => "date".into(),
            PgType::Time => "time without time zone".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Json => "json".into(),
            PgType::Array(element) => format!("{}[]", element.sql()),
            PgType::Enum(name) => name.clone(),
        }
    }

    /// The short spelling used in mapping files and reports (`timestamptz`, `text[]`).
    pub fn short(&self) -> String {
        match self {
            PgType::Varchar(None) => "varchar".into(),
            PgType::Varchar(Some(length)) => format!("varchar({length})"),
            PgType::Timestamptz => "timestamptz".into(),
            PgType::Timestamp => "timestamp".into(),
            PgType::Time => "time".into(),
            PgType::Array(element) => format!("{}[]", element.short()),
            PgType::Enum(name) => format!("enum {name}"),
            other => other.sql(),
        }
    }
}

impl fmt::Display for PgType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.short())
    }
}

/// A type name a mapping file gave that offbase cannot load into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown PostgreSQL type {0:?}: use one of text, varchar(n), uuid, boolean, smallint, integer, \
     bigint, real, double precision, numeric, numeric(p,s), timestamptz, timestamp, date, time, \
     jsonb, json, or a scalar type followed by [] for an array"
)]
pub struct UnknownPgType(pub String);

impl FromStr for PgType {
    type Err = UnknownPgType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownPgType(text.to_owned());
        let normalized = text.trim().to_ascii_lowercase();
        let normalized = normalized.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(element) = normalized.strip_suffix("[]") {
            let element: PgType = element.parse().map_err(|_| unknown())?;
            if matches!(element, PgType::Array(_)) {
                return Err(unknown());
            }
            return Ok(PgType::Array(Box::new(element)));
        }
        let (base, arguments) = match normalized.split_once('(') {
            Some((base, rest)) => {
                let inner = rest.strip_suffix(')').ok_or_else(unknown)?;
                let numbers = inner
                    .split(',')
                    .map(|part| part.trim().parse::<u32>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| unknown())?;
                (base.trim().to_owned(), Some(numbers))
            }
            None => (normalized.clone(), None),
        };
        let parsed = match (base.as_str(), arguments.as_deref()) {
            ("text", None) => PgType::Text,
            ("varchar" | "character varying", None) => PgType::Varchar(None),
            ("varchar" | "character varying", Some([length])) if *length > 0 => {
                PgType::Varchar(Some(*length))
            }
            ("uuid", None) => PgType::Uuid,
            ("boolean" | "bool", None) => PgType::Boolean,
            ("smallint" | "int2", None) => PgType::Smallint,
            ("integer" | "int" | "int4", None) => PgType::Integer,
            ("bigint" | "int8", None) => PgType::Bigint,
            ("real" | "float4", None) => PgType::Real,
            ("double precision" | "float8", None) => PgType::DoublePrecision,
            ("numeric" | "decimal", None) => PgType::Numeric(None),
            ("numeric" | "decimal", Some([precision])) if (1..=1000).contains(precision) => {
                PgType::Numeric(Some((*precision, 0)))
            }
            ("numeric" | "decimal", Some([precision, scale]))
                if (1..=1000).contains(precision) && scale <= precision =>
            {
                PgType::Numeric(Some((*precision, *scale)))
            }
            ("timestamptz" | "timestamp with time zone", None) => PgType::Timestamptz,
            ("timestamp" | "timestamp without time zone", None) => PgType::Timestamp,
            ("date", None) => PgType::Date,
            ("time" | "time without time zone", None) => PgType::Time,
            ("jsonb", None) => PgType::Jsonb,
            ("json", None) => PgType::Json,
            _ => return Err(unknown()),
        };
        Ok(parsed)
    }
}

impl Serialize for PgType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.short())
    }
}

impl<'de> Deserialize<'de> for PgType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_mapping_files_use() {
        let cases = [
            ("numeric(12,2)", PgType::Numeric(Some((12, 2)))),
            ("NUMERIC( 12 , 2 )", PgType::Numeric(Some((12, 2)))),
            ("double  precision", PgType::DoublePrecision),
            ("timestamptz", PgType::Timestamptz),
            ("text[]", PgType::Array(Box::new(PgType::Text))),
            ("bigint[]", PgType::Array(Box::new(PgType::Bigint))),
            ("varchar(80)", PgType::Varchar(Some(80))),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<PgType>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_load_into() {
        for text in [
            "money",
            "text[][]",
            "numeric(2,5)",
            "varchar(0)",
            "numeric(x)",
            "",
        ] {
            assert!(text.parse::<PgType>().is_err(), "{text}");
        }
    }

    #[test]
    fn short_spelling_round_trips() {
        for text in [
            "numeric(12,2)",
            "timestamptz",
            "text[]",
            "double precision",
            "time",
        ] {
            let parsed: PgType = text.parse().unwrap_or(PgType::Json);
            assert_eq!(parsed.short(), text);
        }
    }
}
