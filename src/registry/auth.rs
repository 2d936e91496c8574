//! Registry authentication: parsing `WWW-Authenticate` challenges, building token scopes, and
//! the token response. Tokens and credentials are kept in redacting types.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::authfile::Secret;

/// What a registry asked for on `GET /v2/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// No auth required.
    None,
    /// HTTP Basic with the auth-file credentials.
    Basic,
    /// Bearer tokens from `realm` (with `service`).
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value: `Bearer realm="…",service="…",scope="…"` or `Basic …`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(rest);
            Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
            })
        }
        _ => None,
    }
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Access wanted on one repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Pull,
    Push,
    /// Deleting manifests (`airlift delete --execute`).
    Delete,
}

/// Token scopes for a request, in a canonical order (also the token cache key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// `repository:<path>:pull` or `:pull,push`.
    pub fn repo(path: &str, access: Access) -> Self {
        Scopes(vec![scope(path, access)])
    }

    /// Push on `path` plus pull on `from` (a cross-repository mount); a mount from `path`
    /// itself (an existence probe) needs push on `path` only, the same token as an upload.
    pub fn mount(path: &str, from: &str) -> Self {
        if path == from {
            return Scopes::repo(path, Access::Push);
        }
        let mut v = vec![scope(path, Access::Push), scope(from, Access::Pull)];
        v.sort();
        v.dedup();
        Scopes(v)
    }

    /// No repository (`GET /v2/`).
    pub fn none() -> Self {
        Scopes(Vec::new())
    }

    /// The registry's repository list (`GET /v2/_catalog`).
    pub fn catalog() -> Self {
        Scopes(vec!["registry:catalog:*".to_string()])
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The repository whose credentials apply: the one pushed to, else the first one.
    pub fn primary_path(&self) -> &str {
        self.0
            .iter()
            .find(|s| s.ends_with(":pull,push") || s.ends_with(":delete"))
            .or(self.0.first())
            .and_then(|s| s.split(':').nth(1))
            .unwrap_or("")
    }
}

fn scope(path: &str, access: Access) -> String {
    match access {
        Access::Pull => format!("repository:{path}:pull"),
        Access::Push => format!("repository:{path}:pull,push"),
        Access::Delete => format!("repository:{path}:delete"),
    }
}

/// The JSON a token endpoint answers.
#[derive(Deserialize)]
pub struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<Secret> {
        self.token
            .or(self.access_token)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="airlift-test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn mount_scopes_are_canonical() {
        assert_eq!(
            Scopes::mount("b/x", "a/y").as_slice(),
            ["repository:a/y:pull", "repository:b/x:pull,push"]
        );
        assert_eq!(Scopes::mount("b/x", "a/y").primary_path(), "b/x");
        assert_eq!(Scopes::repo("c", Access::Pull).primary_path(), "c");
        // A mount from the repository itself (an existence probe) asks for the upload's scope,
        // so it reuses the upload's token.
        assert_eq!(
            Scopes::mount("a", "a").as_slice(),
            Scopes::repo("a", Access::Push).as_slice()
        );
        assert_eq!(
            Scopes::mount("a", "a").as_slice(),
            ["repository:a:pull,push"]
        );
    }

    #[test]
    fn token_response_prefers_token() {
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"b","token":"a"}"#).unwrap();
        assert_eq!(t.into_token().unwrap().expose(), "a");
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"b"}"#).unwrap();
        assert_eq!(format!("{:?}", t.into_token().unwrap()), "****");
    }
}
