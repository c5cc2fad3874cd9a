//! Status columns as closed sets: each is a Rust enum stored as its
//! lowercase name in a text column (the schema's CHECK constraints list the
//! same names) and serialised the same way, so the JSON and SQL values are
//! unchanged while Rust compares variants instead of strings.

/// A stored or requested status that is not one of its column's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

/// `status_enum! { /// doc  Name { /// doc  Variant => "name", ... } }`:
/// the enum, `as_str`, `Display`, `FromStr`, serde, and sqlx decoding from
/// a text column. Queries bind `status.as_str()`.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The name stored in the column and sent in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::store::UnknownStatus;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::store::UnknownStatus(other.to_owned())),
                }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse()?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    status_enum! {
        /// A status for the test.
        Light {
            /// Go.
            Green => "green",
            /// Stop.
            Red => "red",
        }
    }

    #[test]
    fn names_round_trip_through_text_and_json() {
        for light in [Light::Green, Light::Red] {
            assert_eq!(light.as_str().parse::<Light>(), Ok(light));
            assert_eq!(light.to_string(), light.as_str());
            let json = serde_json::to_value(light).expect("serialises");
            assert_eq!(json, serde_json::json!(light.as_str()));
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            "Green".parse::<Light>(),
            Err(super::UnknownStatus("Green".to_owned()))
        );
        assert!(serde_json::from_str::<Light>(r#""amber""#).is_err());
    }
}
