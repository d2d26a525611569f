//! Which secret signs and which secrets still open: Better Auth's `secret` and its `secrets`
//! rotation (`BETTER_AUTH_SECRETS="2:new,1:old"`), resolved as Better Auth 1.7's
//! `createAuthContext` resolves them.
//!
//! With `secrets` set, the first entry is the current secret: it alone signs and checks the
//! session cookie, `dont_remember`, and the `compact` and `jwt` cookie caches (so putting a new
//! secret first signs everyone out, in Better Auth as here). The other entries, then the plain
//! `secret` (`BETTER_AUTH_SECRET`, unless it is Better Auth's development default), only still
//! decrypt `jwe` cookie caches.

use super::file::BetterAuthSection;
use super::{ConfigError, Secret};

/// Better Auth's development secret: never a legacy secret (Better Auth skips it too).
const BETTER_AUTH_DEV_SECRET: &str = "better-auth-secret-12345678901234567890";

/// The current secret and the older ones, in the order Better Auth tries them.
pub(super) fn secrets(b: &BetterAuthSection) -> Result<(Secret, Vec<Secret>), ConfigError> {
    let legacy = b.secret.clone().filter(|s| !s.is_empty());
    let Some(text) = b.secrets.as_deref().filter(|t| !t.is_empty()) else {
        let secret = legacy.ok_or_else(|| {
            ConfigError::new(
                "better_auth.secret",
                "not set; set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS) to what your Better \
                 Auth server uses",
            )
        })?;
        return Ok((Secret(secret), Vec::new()));
    };
    let mut versions: Vec<u64> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    for (i, entry) in text.split(',').enumerate() {
        let position = i + 1;
        let problem = |what: String| {
            ConfigError::new(
                "better_auth.secrets",
                format!("entry {position}: {what} (write \"<version>:<secret>,...\", current first, as BETTER_AUTH_SECRETS)"),
            )
        };
        let (version, value) = entry
            .trim()
            .split_once(':')
            .ok_or_else(|| problem("no `:` between version and secret".into()))?;
        let version: u64 = version.trim().parse().map_err(|_| {
            problem(format!(
                "version `{}` is not a non-negative integer",
                version.trim()
            ))
        })?;
        if versions.contains(&version) {
            return Err(problem(format!("version {version} appears twice")));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(problem(format!("the secret of version {version} is empty")));
        }
        versions.push(version);
        values.push(value.to_owned());
    }
    if let Some(legacy) = legacy {
        if legacy != BETTER_AUTH_DEV_SECRET && !values.contains(&legacy) {
            values.push(legacy);
        }
    }
    let mut secrets = values.into_iter().map(Secret);
    let current = secrets.next().expect("split yields at least one entry");
    Ok((current, secrets.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::BetterAuthSection;

    fn resolve(
        secret: Option<&str>,
        secrets_text: Option<&str>,
    ) -> Result<(String, Vec<String>), ConfigError> {
        let b = BetterAuthSection {
            secret: secret.map(str::to_owned),
            secrets: secrets_text.map(str::to_owned),
            ..BetterAuthSection::default()
        };
        let (current, older) = secrets(&b)?;
        Ok((
            current.expose().to_owned(),
            older.iter().map(|s| s.expose().to_owned()).collect(),
        ))
    }

    #[test]
    fn without_rotation_the_secret_is_the_only_one() {
        assert_eq!(resolve(Some("s"), None).unwrap(), ("s".into(), vec![]));
        assert_eq!(resolve(Some("s"), Some("")).unwrap(), ("s".into(), vec![]));
        assert_eq!(resolve(None, None).unwrap_err().key, "better_auth.secret");
    }

    #[test]
    fn the_first_entry_is_current_then_the_others_then_the_legacy_secret() {
        assert_eq!(
            resolve(Some("legacy"), Some(" 3:new , 2:mid,1:old ")).unwrap(),
            (
                "new".into(),
                vec!["mid".into(), "old".into(), "legacy".into()]
            )
        );
        // Already listed, or Better Auth's development default: not added again.
        assert_eq!(
            resolve(Some("old"), Some("2:new,1:old")).unwrap(),
            ("new".into(), vec!["old".into()])
        );
        assert_eq!(
            resolve(Some(BETTER_AUTH_DEV_SECRET), Some("2:new")).unwrap(),
            ("new".into(), vec![])
        );
        // A secret may contain `:`; only the first one separates the version.
        assert_eq!(
            resolve(None, Some("1:a:b")).unwrap(),
            ("a:b".into(), vec![])
        );
    }

    #[test]
    fn bad_entries_say_which_and_why() {
        for (text, why) in [
            ("new", "entry 1: no `:`"),
            ("2:new,x:old", "entry 2: version `x`"),
            ("2:new,-1:old", "entry 2: version `-1`"),
            ("2:new,2:old", "entry 2: version 2 appears twice"),
            ("2:new,1: ", "entry 2: the secret of version 1 is empty"),
        ] {
            let err = resolve(Some("legacy"), Some(text)).unwrap_err();
            assert_eq!(err.key, "better_auth.secrets");
            assert!(err.message.starts_with(why), "{text}: {}", err.message);
        }
    }
}
