//! Secrets: newtypes whose `Debug` never prints them, stored only as hashes, compared in
//! constant time.
//!
//! Client secrets are 256 random bits, so a fast hash (SHA-256) is as good as a slow KDF here:
//! there is nothing to brute-force that a KDF would slow down. Hashing also makes the
//! comparison length-independent.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of randomness in a client secret (256 bits; the floor is 128).
pub const CLIENT_SECRET_BYTES: usize = 32;
/// Bytes of randomness in a token id (`jti`).
pub const TOKEN_ID_BYTES: usize = 16;

/// A secret presented by a client or shown once to an administrator. No `PartialEq`: a `==`
/// on secrets would be variable-time; compare hashes with [`SecretHash::matches`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Encodes fresh random bytes (supplied by the caller: the core has no random source) as a
    /// URL-safe secret string.
    pub fn from_random_bytes(bytes: &[u8; CLIENT_SECRET_BYTES]) -> Self {
        Secret(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The secret in clear: only for the one response that shows it, or to hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored: hex SHA-256 of the secret, domain-separated.
    pub fn hash(&self) -> SecretHash {
        SecretHash(hash_hex(b"isogate-secret-v1:", self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The stored form of a secret: lower-case hex of SHA-256 over `isogate-secret-v1:` and the
/// secret. Compared only in constant time ([`SecretHash::matches`]).
#[derive(Clone, Debug)]
pub struct SecretHash(pub String);

impl SecretHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time check that `presented` hashes to this value.
    pub fn matches(&self, presented: &Secret) -> bool {
        hash_matches(&self.0, presented)
    }
}

/// Constant-time check that `presented` hashes to the stored hex `stored` (which need not be a
/// real hash: an unknown client is checked against a dummy so that it costs the same).
pub fn hash_matches(stored: &str, presented: &Secret) -> bool {
    constant_time_eq(stored.as_bytes(), presented.hash().0.as_bytes())
}

/// Constant-time equality of two byte strings of public length (hashes).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Compares a presented bearer secret (the admin credential) with the configured one without
/// leaking, through timing, how much of it matched or how long it is.
pub fn secrets_equal(presented: &str, configured: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    bool::from(a.ct_eq(&b))
}

fn hash_hex(domain: &[u8], data: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update(data);
    hex(&hasher.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
    }

    #[test]
    fn stored_hash_format_is_pinned_by_a_known_answer() {
        // printf 'isogate-secret-v1:hunter2' | sha256sum
        let known_answer = "42d98741ca96d2f3a0a932f3fb57dce80f111e26f5e27546bf109ae3720ecb7a";
        assert_eq!(Secret::new("hunter2").hash().as_str(), known_answer);
    }

    #[test]
    fn stored_hash_matches_only_the_same_secret() {
        let s = Secret::from_random_bytes(&[7; CLIENT_SECRET_BYTES]);
        let h = s.hash();
        assert!(h.matches(&s));
        assert!(!h.matches(&Secret::new("other")));
        assert!(!h.0.contains(s.expose()));
        assert_eq!(h.0.len(), 64);
    }

    #[test]
    fn random_secret_encodes_all_256_bits() {
        let s = Secret::from_random_bytes(&[0xff; CLIENT_SECRET_BYTES]);
        assert_eq!(s.expose().len(), 43); // ceil(32 * 8 / 6)
    }

    #[test]
    fn admin_secret_comparison_is_exact() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "abc"));
    }
}
