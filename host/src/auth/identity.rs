//! The input rules of an account, as types: a value of [`Username`] or
//! [`Email`] (or `passwords::Password`) has passed its rule, so the HTTP
//! API and the command line cannot drift apart (zero2prod's
//! `SubscriberEmail::parse`).

use std::fmt;

/// Why an account field was refused; each carries the stable problem code
/// the API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not 3-64 characters of letters, digits, `.`, `_`, `-`.
    #[error("a username is 3-64 characters of letters, digits, '.', '_' and '-'")]
    Username,
    /// Not an e-mail address.
    #[error("not a valid e-mail address")]
    Email,
    /// Shorter or longer than the password rule allows.
    #[error(
        "a password is {} to {} characters",
        super::passwords::MIN_PASSWORD_LEN,
        super::passwords::MAX_PASSWORD_LEN
    )]
    Password,
}

impl InputError {
    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Username => "invalid_username",
            InputError::Email => "invalid_email",
            InputError::Password => "weak_password",
        }
    }
}

/// A login name: 3-64 characters of ASCII letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Longest username accepted (bytes; the name is ASCII).
    pub const MAX_LEN: usize = 64;

    /// Check `name` against the rule.
    pub fn parse(name: &str) -> Result<Self, InputError> {
        let ok = (3..=Self::MAX_LEN).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(InputError::Username)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, stored lower-cased: `local@domain.tld`, at most 256
/// characters (the column's `VARCHAR(256)`), no whitespace and no control characters (PostgreSQL refuses NUL
/// in text; the others only ever come from mistakes or probes).
/// (Deliverability is not checked.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Check `address` against the rule; the value is the lower-cased
    /// address.
    pub fn parse(address: &str) -> Result<Self, InputError> {
        let ok = address.chars().count() <= 256
            && !address.chars().any(|c| c.is_whitespace() || c.is_control())
            && address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if ok {
            Ok(Self(address.to_lowercase()))
        } else {
            Err(InputError::Email)
        }
    }

    /// The lower-cased address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased address, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for good in ["abc", "a.b_c-d", &"x".repeat(64)] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "a b",
            "é-name",
            &"x".repeat(65),
            "semi;colon",
            "nul\0name",
        ] {
            assert_eq!(Username::parse(bad), Err(InputError::Username), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            Email::parse("Ann@Example.TEST").map(Email::into_inner),
            Ok("ann@example.test".to_owned())
        );
        for bad in [
            "no-at",
            "@example.test",
            "a@nodot",
            "a@.example.test",
            "a@example.test.",
            "a b@example.test",
            "a\0b@example.test",
            "ann@example.test\0",
            "a\u{7}@example.test",
            &format!("{}@example.test", "x".repeat(250)),
        ] {
            assert_eq!(Email::parse(bad), Err(InputError::Email), "{bad}");
        }
        // The limit counts characters, as the column and the OpenAPI
        // document's maxLength do: 256 two-byte characters fit.
        let wide = format!("{}@example.test", "é".repeat(256 - 13));
        assert_eq!(wide.chars().count(), 256);
        assert!(Email::parse(&wide).is_ok(), "{} bytes", wide.len());
        assert!(Email::parse(&format!("é{wide}")).is_err());
    }

    #[test]
    fn codes_are_the_apis() {
        assert_eq!(InputError::Username.code(), "invalid_username");
        assert_eq!(InputError::Email.code(), "invalid_email");
        assert_eq!(InputError::Password.code(), "weak_password");
    }
}
