//! Better Auth's `user.additionalFields` and `session.additionalFields`, and the plugin fields
//! declared the same way (the organization plugin's `activeOrganizationId` and `activeTeamId`):
//! which columns Gatehouse reads, how it types them, and whether Better Auth returns them.
//!
//! A field is read from the column `field_name` (Better Auth's `fieldName`, default: its name),
//! typed as Better Auth types it (`string`, `number`, `boolean`, `date`, `string[]`, `number[]`,
//! `json`), returned in `get-session` and `session_data` unless `returned = false`, and can be
//! sent upstream as a header (`[headers.fields]`) or reject a session (`[sessions.reject_when]`).
//! A configured field whose column is missing stops startup with the database's own message,
//! which names the column (the startup schema probe reads every configured column).

use std::collections::BTreeMap;

use super::database::{SESSION_FIELDS, USER_FIELDS};
use super::file::{FieldSection, PluginsSection};
use super::parse::identifier;
use super::ConfigError;

/// A field's type, as Better Auth's `DBFieldType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Boolean,
    /// Returned as an ISO-8601 string with milliseconds, as `JSON.stringify(Date)` writes it.
    Date,
    StringArray,
    NumberArray,
    Json,
}

impl FieldType {
    fn parse(key: &str, text: &str) -> Result<Self, ConfigError> {
        Ok(match text {
            "string" => Self::String,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "date" => Self::Date,
            "string[]" => Self::StringArray,
            "number[]" => Self::NumberArray,
            "json" => Self::Json,
            other => {
                return Err(ConfigError::new(
                    key,
                    format!("`{other}` is not one of string, number, boolean, date, string[], number[], json (Better Auth's field types)"),
                ))
            }
        })
    }
}

/// One additional field of the `user` or `session` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdditionalField {
    /// The name in Better Auth's JSON (`get-session`, `session_data`).
    pub name: String,
    /// The column it is stored in.
    pub column: String,
    pub field_type: FieldType,
    /// Better Auth's `returned` (default true): `false` keeps it out of every answer and cookie.
    pub returned: bool,
}

/// The additional fields Gatehouse reads, in a fixed order (values are stored in this order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdditionalFields {
    pub user: Vec<AdditionalField>,
    pub session: Vec<AdditionalField>,
}

/// The table a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldTable {
    User,
    Session,
}

/// A reference to one field: its table and its index in that table's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub table: FieldTable,
    pub index: usize,
}

impl AdditionalFields {
    /// The field `at` refers to.
    pub fn get(&self, at: FieldRef) -> Option<&AdditionalField> {
        match at.table {
            FieldTable::User => self.user.get(at.index),
            FieldTable::Session => self.session.get(at.index),
        }
    }

    /// The organization plugin's `session.activeOrganizationId`, when it is read.
    pub fn active_organization(&self) -> Option<FieldRef> {
        self.find("session.activeOrganizationId").map(|(at, _)| at)
    }

    /// The field `user.<name>` or `session.<name>`, as `[headers.fields]` and
    /// `[sessions.reject_when]` name them.
    pub fn find(&self, qualified: &str) -> Option<(FieldRef, &AdditionalField)> {
        let (table, name) = qualified.split_once('.')?;
        let (table, list) = match table {
            "user" => (FieldTable::User, &self.user),
            "session" => (FieldTable::Session, &self.session),
            _ => return None,
        };
        let index = list.iter().position(|f| f.name == name)?;
        Some((FieldRef { table, index }, &list[index]))
    }
}

pub(super) fn additional_fields(
    user: &BTreeMap<String, FieldSection>,
    session: &BTreeMap<String, FieldSection>,
    plugins: &PluginsSection,
) -> Result<AdditionalFields, ConfigError> {
    let mut session_fields = fields(
        "better_auth.session.additional_fields",
        session,
        SESSION_FIELDS,
    )?;
    // The organization plugin's session fields, as its schema declares them.
    let mut plugin_field = |name: &str| {
        if !session_fields.iter().any(|f| f.name == name) {
            session_fields.push(AdditionalField {
                name: name.to_owned(),
                column: name.to_owned(),
                field_type: FieldType::String,
                returned: true,
            });
        }
    };
    if plugins.organization {
        plugin_field("activeOrganizationId");
    }
    if plugins.organization_teams {
        if !plugins.organization {
            return Err(ConfigError::new(
                "better_auth.plugins.organization_teams",
                "needs better_auth.plugins.organization = true (teams are part of the organization plugin)",
            ));
        }
        plugin_field("activeTeamId");
    }
    Ok(AdditionalFields {
        user: fields("better_auth.user.additional_fields", user, USER_FIELDS)?,
        session: session_fields,
    })
}

fn fields(
    key: &str,
    sections: &BTreeMap<String, FieldSection>,
    core: &[&str],
) -> Result<Vec<AdditionalField>, ConfigError> {
    sections
        .iter()
        .map(|(name, f)| {
            let key = format!("{key}.{name}");
            identifier(&key, name)?;
            if core.contains(&name.as_str()) {
                return Err(ConfigError::new(
                    key,
                    "is one of Better Auth's own fields; Gatehouse already reads it",
                ));
            }
            Ok(AdditionalField {
                name: name.clone(),
                column: identifier(
                    &format!("{key}.field_name"),
                    f.field_name.as_deref().unwrap_or(name),
                )?,
                field_type: FieldType::parse(&format!("{key}.type"), &f.field_type)?,
                returned: f.returned,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_toml, Config, MapEnv};

    fn load(toml: &str) -> Result<Config, ConfigError> {
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "test-secret-test-secret")]);
        Config::from_file(parse_toml(toml)?, &env)
    }

    #[test]
    fn fields_and_plugin_fields_are_declared_with_better_auths_names() {
        let c = load(
            "[better_auth.user.additional_fields]\n\
             isActive = { type = \"boolean\" }\n\
             note = { type = \"string\", returned = false, field_name = \"secret_note\" }\n\
             [better_auth.plugins]\norganization = true\norganization_teams = true\n",
        )
        .unwrap();
        let fields = &c.better_auth.additional_fields;
        assert_eq!(
            fields.user,
            vec![
                AdditionalField {
                    name: "isActive".into(),
                    column: "isActive".into(),
                    field_type: FieldType::Boolean,
                    returned: true,
                },
                AdditionalField {
                    name: "note".into(),
                    column: "secret_note".into(),
                    field_type: FieldType::String,
                    returned: false,
                },
            ]
        );
        let session: Vec<&str> = fields.session.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(session, ["activeOrganizationId", "activeTeamId"]);
        assert_eq!(
            c.database.schema.additional_fields, *fields,
            "the store reads them"
        );
        assert_eq!(
            fields.find("user.note").map(|(at, _)| at),
            Some(FieldRef {
                table: FieldTable::User,
                index: 1
            })
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        for (toml, key) in [
            (
                "[better_auth.user.additional_fields]\nage = { type = \"int\" }\n",
                "better_auth.user.additional_fields.age.type",
            ),
            (
                "[better_auth.user.additional_fields]\nemail = { type = \"string\" }\n",
                "better_auth.user.additional_fields.email",
            ),
            (
                "[better_auth.session.additional_fields]\nx = { type = \"string\", field_name = \"a b\" }\n",
                "better_auth.session.additional_fields.x.field_name",
            ),
            (
                "[better_auth.plugins]\norganization_teams = true\n",
                "better_auth.plugins.organization_teams",
            ),
            (
                "[headers.fields]\n\"x-org\" = \"session.activeOrganizationId\"\n",
                "headers.fields.\"x-org\"",
            ),
            (
                "[better_auth.user.additional_fields]\nnote = { type = \"string\", returned = false }\n\
                 [headers.fields]\n\"x-note\" = \"user.note\"\n",
                "headers.fields.\"x-note\"",
            ),
            (
                "[sessions.reject_when]\n\"user.isActive\" = false\n",
                "sessions.reject_when.\"user.isActive\"",
            ),
            (
                "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n\
                 [sessions.reject_when]\n\"user.isActive\" = [false]\n",
                "sessions.reject_when.\"user.isActive\"",
            ),
        ] {
            assert_eq!(load(toml).unwrap_err().key, key, "{toml}");
        }
    }

    #[test]
    fn reject_rules_hold_json_values() {
        let c = load(
            "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n\
             [sessions.reject_when]\n\"user.isActive\" = false\n",
        )
        .unwrap();
        assert_eq!(
            c.sessions.reject_when,
            vec![(
                FieldRef {
                    table: FieldTable::User,
                    index: 0
                },
                serde_json::json!(false)
            )]
        );
    }
}
