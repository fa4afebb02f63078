//! Redis addresses (`redis://[USER:PASSWORD@]HOST:PORT[/DB]`): checking one given on the command
//! line, and hiding its password wherever it is shown. The address may hold a password, so it is
//! never shown as given: logs and error messages use [`redacted`]. Connecting is left to the
//! board ([`super::RedisBoard::connect`]).

/// Whether `url` is an address the Redis client accepts; if not, why, without its password.
pub(in crate::chat) fn check_address(url: &str) -> Result<(), String> {
    redis::Client::open(url)
        .map(drop)
        .map_err(|e| format!("`{}` is not a Redis address: {e}", redacted(url)))
}

/// `url` with any password replaced by `***`, for logs and error messages.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://***@{host}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_from_logs() {
        assert_eq!(
            redacted("redis://127.0.0.1:6379/2"),
            "redis://127.0.0.1:6379/2"
        );
        assert_eq!(
            redacted("redis://:secret@db:6379"),
            "redis://:***@db:6379",
            "password only"
        );
        assert_eq!(
            redacted("redis://me:secret@db:6379/1"),
            "redis://me:***@db:6379/1"
        );
        assert_eq!(redacted("redis://token@db"), "redis://***@db");
    }

    #[test]
    fn a_bad_address_is_refused_without_its_password() {
        assert_eq!(check_address("redis://127.0.0.1:6379/2"), Ok(()));
        let refused = check_address("redis://me:secret@db:6379/not-a-number").unwrap_err();
        assert!(!refused.contains("secret"), "{refused}");
    }
}
