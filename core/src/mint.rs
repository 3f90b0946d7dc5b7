//! The one way to sign an access token. The token endpoint (RFC 6749 §4.4) and the admin API
//! (access-token credentials) both issue through [`Minter::issue`], so every token carries the
//! same claims (RFC 9068 §2.2), the same key and the same lifetime rules.

use crate::capability::{Now, RandomSource};
use crate::keys::{Ed25519, SigningKey, VerifyingKey};
use crate::model::Credential;
use crate::scope::ScopeSet;
use crate::secret::TOKEN_ID_BYTES;
use crate::token::{unsigned_access_token, IssuedToken, TokenGrant};

/// Signs tokens for this deployment: its signing key, issuer, audience and default lifetime.
pub struct Minter {
    signing_key: SigningKey,
    issuer: String,
    audience: String,
    default_ttl_secs: i64,
}

/// What a token is for: a credential, the scopes granted (already narrowed to its ceiling),
/// and a lifetime (`None`: the deployment's default).
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    pub credential: &'a Credential,
    pub scopes: &'a ScopeSet,
    pub lifetime_secs: Option<i64>,
}

impl Minter {
    pub fn new(
        signing_key: SigningKey,
        issuer: &str,
        audience: &str,
        default_ttl_secs: i64,
    ) -> Minter {
        Minter {
            signing_key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            default_ttl_secs,
        }
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Signs a token for `grant` at `now` with the runtime's `ed25519`, its `jti` from
    /// `random`. The token never outlives the credential.
    pub async fn issue(
        &self,
        ed25519: &impl Ed25519,
        random: &dyn RandomSource,
        grant: Grant<'_>,
        now: Now,
    ) -> IssuedToken {
        let now = now.unix_secs();
        let mut expires_at = now + grant.lifetime_secs.unwrap_or(self.default_ttl_secs);
        if let Some(credential_expiry) = grant.credential.expires_at {
            expires_at = expires_at.min(credential_expiry);
        }
        let mut jti = [0u8; TOKEN_ID_BYTES];
        random.fill(&mut jti);
        let claims = TokenGrant {
            issuer: &self.issuer,
            audience: &self.audience,
            subject: &grant.credential.user,
            client_id: &grant.credential.client_id,
            scopes: grant.scopes,
            issued_at: now,
            expires_at,
        };
        let unsigned = unsigned_access_token(&self.signing_key, &claims, &jti);
        let signature = ed25519
            .sign(&self.signing_key, unsigned.signing_input())
            .await;
        unsigned.finish(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PortableEd25519;
    use crate::model::CredentialKind;
    use crate::testing::{block_on, FixedRandom};

    fn credential(expires_at: Option<i64>) -> Credential {
        Credential {
            client_id: "abcd-efgh".into(),
            name: "c".into(),
            user: "root".into(),
            kind: CredentialKind::OAuth2,
            secret_hash: None,
            scopes: ScopeSet::default(),
            expires_at,
            enabled: true,
            created_at: 0,
        }
    }

    fn issue(credential: &Credential, lifetime_secs: Option<i64>) -> IssuedToken {
        let minter = Minter::new(
            SigningKey::from_seed([1; 32]),
            "https://i",
            "https://a",
            3600,
        );
        let scopes = ScopeSet::all_services();
        let grant = Grant {
            credential,
            scopes: &scopes,
            lifetime_secs,
        };
        block_on(minter.issue(
            &PortableEd25519,
            &FixedRandom(9),
            grant,
            Now::from_unix_ms(1_000_999),
        ))
    }

    #[test]
    fn rfc9068_2_2_claims_come_from_the_credential_and_the_deployment() {
        let t = issue(&credential(None), None);
        let c = &t.claims;
        assert_eq!(
            (c.iss.as_str(), c.aud.as_str(), c.sub.as_str()),
            ("https://i", "https://a", "root")
        );
        assert_eq!(
            (c.client_id.as_str(), c.scope.as_str()),
            ("abcd-efgh", "service:*")
        );
        assert_eq!((c.iat, c.exp), (1000, 4600));
        assert_eq!(
            c.jti, "CQkJCQkJCQkJCQkJCQkJCQ",
            "16 random bytes, base64url"
        );
    }

    #[test]
    fn a_token_never_outlives_its_credential() {
        assert_eq!(issue(&credential(Some(1600)), None).claims.exp, 1600);
        assert_eq!(issue(&credential(Some(99_999)), Some(60)).claims.exp, 1060);
    }
}
