//! Signing in from a browser. A form cannot send `X-API-Key`, so `/login` takes a key once and
//! answers with a session cookie: `v1.<key SHA-256>.<expiry>.<nonce>.<HMAC>`, signed with the
//! server's session secret, `HttpOnly`, `SameSite=Strict`, `Secure` behind TLS. Each request
//! authenticates the key's digest again (a revoked or narrowed key ends its sessions at once),
//! the key itself is never stored. Every form that changes something carries a CSRF token, the
//! HMAC of the session's nonce; the login form's token is bound to a short-lived cookie of its
//! own.

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

pub const SESSION_COOKIE: &str = "preciso_session";
pub const LOGIN_COOKIE: &str = "preciso_login";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How long a login form may wait.
pub const LOGIN_TTL: Duration = Duration::from_secs(1800);

/// The secret sessions are signed with: from `[http] session_secret` (the same on every
/// replica, so any of them accepts a session), else random per process (sessions end when it
/// restarts).
#[derive(Clone)]
pub struct SessionKeys {
    secret: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// A valid session's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 (hex) of the API key it was opened with.
    pub key_digest: String,
    pub expires: i64,
    pub nonce: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// 16 random bytes as hex.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    // The OS generator does not fail on a running system; zeros would only weaken one nonce.
    let _ = getrandom::fill(&mut bytes);
    hex(&bytes)
}

impl SessionKeys {
    pub fn new(configured: Option<&str>) -> Self {
        use sha2_hmac::Digest;
        let mut secret = [0u8; 32];
        match configured.filter(|s| !s.is_empty()) {
            Some(s) => secret.copy_from_slice(&Sha256::digest(s.as_bytes())),
            None => {
                let _ = getrandom::fill(&mut secret);
            }
        }
        SessionKeys { secret }
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b".");
            }
            mac.update(p.as_bytes());
        }
        mac
    }

    fn sign(&self, parts: &[&str]) -> String {
        hex(&self.mac(parts).finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], signature: &str) -> bool {
        unhex(signature).is_some_and(|sig| self.mac(parts).verify_slice(&sig).is_ok())
    }

    /// A new session's cookie value for the key with this digest.
    pub fn issue(&self, key_digest: &str, now: i64) -> String {
        let expires = (now + SESSION_TTL.as_secs() as i64).to_string();
        let nonce = nonce();
        let sig = self.sign(&["v1", key_digest, &expires, &nonce]);
        format!("v1.{key_digest}.{expires}.{nonce}.{sig}")
    }

    /// The session a cookie value holds, if it is signed by this secret and not expired.
    pub fn open(&self, value: &str, now: i64) -> Option<Session> {
        let parts: Vec<&str> = value.split('.').collect();
        let [version, digest, expires, nonce, sig] = parts[..] else { return None };
        if version != "v1" || digest.len() != 64 || !self.verify(&parts[..4], sig) {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        (expires > now).then(|| Session {
            key_digest: digest.to_string(),
            expires,
            nonce: nonce.to_string(),
        })
    }

    /// The CSRF token of forms in a session (or of the login form, by its cookie's nonce).
    pub fn csrf(&self, purpose: &str, nonce: &str) -> String {
        self.sign(&["csrf", purpose, nonce])
    }

    /// Whether `token` is the CSRF token for `nonce`.
    pub fn csrf_ok(&self, purpose: &str, nonce: &str, token: &str) -> bool {
        self.verify(&["csrf", purpose, nonce], token)
    }
}

/// `name=value; …` of a `Cookie` header: the value of `name`.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` behind TLS;
/// `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    #[test]
    fn a_session_opens_only_signed_unaltered_and_unexpired() {
        let keys = SessionKeys::new(Some("secret"));
        let value = keys.issue(DIGEST, 1_000);
        let s = keys.open(&value, 1_001).expect("fresh session");
        assert_eq!(s.key_digest, DIGEST);
        assert!(keys.open(&value, 1_000 + SESSION_TTL.as_secs() as i64).is_none(), "expired");
        // Another secret (another deployment), or any change to a part, breaks the signature.
        assert!(SessionKeys::new(Some("other")).open(&value, 1_001).is_none());
        let later = value.replacen(&s.expires.to_string(), &(s.expires + 9_999).to_string(), 1);
        assert!(keys.open(&later, 1_001).is_none(), "extended expiry");
        let other_key = value.replacen(DIGEST, &DIGEST.replace('a', "b"), 1);
        assert!(keys.open(&other_key, 1_001).is_none(), "another key's digest");
        assert!(keys.open("v1.x.y", 1_001).is_none());
        // The same configured secret on another replica accepts it.
        assert!(SessionKeys::new(Some("secret")).open(&value, 1_001).is_some());
    }

    #[test]
    fn csrf_tokens_bind_purpose_and_nonce() {
        let keys = SessionKeys::new(None);
        let t = keys.csrf("session", "n1");
        assert!(keys.csrf_ok("session", "n1", &t));
        assert!(!keys.csrf_ok("session", "n2", &t));
        assert!(!keys.csrf_ok("login", "n1", &t));
        assert!(!keys.csrf_ok("session", "n1", "zz"));
    }

    #[test]
    fn cookies_are_found_by_name_and_set_strict() {
        assert_eq!(cookie("a=1; preciso_session=v1.x; b=2", SESSION_COOKIE), Some("v1.x"));
        assert_eq!(cookie("xpreciso_session=1", SESSION_COOKIE), None);
        let set = set_cookie(SESSION_COOKIE, "v", SESSION_TTL, true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(set.ends_with("; Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", SESSION_TTL, false).contains("Secure"));
    }
}
