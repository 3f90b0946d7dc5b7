//! The one signer. It makes the gateway's two kinds of token, with one key:
//!
//! - access tokens (RFC 9068, `typ: at+jwt`): the token endpoint (RFC 6749 §4.4) and the admin
//!   API (access-token credentials) both issue through [`Minter::issue`], so every token
//!   carries the same claims (RFC 9068 §2.2), the same key and the same lifetime rules;
//! - identity assertions (`typ: isogate-assertion+jwt`, [`crate::assertion`]), one per
//!   forwarded request: [`Minter::identity_assertion`], which reuses the one it signed for the
//!   same token and service while it has long enough to live.

use crate::assertion::{
    assertion_claims, AssertedRequest, SignedAssertion, SignedAssertions, ASSERTION_TYP,
};
use crate::capability::{Now, RandomSource};
use crate::keys::{Ed25519, SigningKey, VerifyingKey};
use crate::model::Credential;
use crate::resource::ServiceUrls;
use crate::scope::ScopeSet;
use crate::secret::TOKEN_ID_BYTES;
use crate::token::{
    jws_signing_input, unsigned_access_token, with_signature, Audience, IssuedToken, TokenGrant,
};
use std::rc::Rc;

/// Signs tokens for this deployment: its signing key, issuer, audience and default lifetime,
/// and the services' URLs (the `aud` of assertions); remembers the assertions it signed.
pub struct Minter {
    signing_key: SigningKey,
    issuer: String,
    audience: String,
    default_ttl_secs: i64,
    services: ServiceUrls,
    assertions: SignedAssertions,
}

/// What a token is for: a credential, the scopes granted (already narrowed to its ceiling),
/// and a lifetime (`None`: the deployment's default).
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    pub credential: &'a Credential,
    pub scopes: &'a ScopeSet,
    pub lifetime_secs: Option<i64>,
    /// The thumbprint of the DPoP key to bind the token to (RFC 9449 §6); `None`: bearer.
    pub jkt: Option<&'a str>,
}

impl Minter {
    /// `audience` is that of access tokens; `domain` (`ISOGATE_DOMAIN`) is the one services
    /// answer under, for the `aud` of assertions ([`ServiceUrls`]).
    pub fn new(
        signing_key: SigningKey,
        issuer: &str,
        audience: &str,
        domain: &str,
        default_ttl_secs: i64,
    ) -> Minter {
        Minter {
            signing_key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            default_ttl_secs,
            services: ServiceUrls::new(issuer, domain),
            assertions: SignedAssertions::default(),
        }
    }

    /// The tokens' `iss` (also the audience client assertions may name).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The services' URLs (resource identifiers, RFC 8707 / RFC 9728).
    pub fn services(&self) -> &ServiceUrls {
        &self.services
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
        self.issue_for(ed25519, random, grant, &[], now).await
    }

    /// [`Minter::issue`], the token's `aud` being the URLs of `services` (RFC 8707: the
    /// resources asked for, already checked to exist and be in scope), or this deployment's
    /// audience when there are none.
    pub async fn issue_for(
        &self,
        ed25519: &impl Ed25519,
        random: &dyn RandomSource,
        grant: Grant<'_>,
        services: &[String],
        now: Now,
    ) -> IssuedToken {
        let now = now.unix_secs();
        let mut expires_at = now + grant.lifetime_secs.unwrap_or(self.default_ttl_secs);
        if let Some(credential_expiry) = grant.credential.expires_at {
            expires_at = expires_at.min(credential_expiry);
        }
        let mut jti = [0u8; TOKEN_ID_BYTES];
        random.fill(&mut jti);
        let audience = if services.is_empty() {
            Audience::from(self.audience.as_str())
        } else {
            Audience::new(services.iter().map(|s| self.services.of(s)).collect())
        };
        let claims = TokenGrant {
            issuer: &self.issuer,
            audience,
            subject: &grant.credential.user,
            client_id: &grant.credential.client_id,
            scopes: grant.scopes,
            issued_at: now,
            expires_at,
            jkt: grant.jkt,
        };
        let unsigned = unsigned_access_token(&self.signing_key, &claims, &jti);
        let signature = ed25519
            .sign(&self.signing_key, unsigned.signing_input())
            .await;
        unsigned.finish(signature)
    }

    /// The identity assertion to forward with `request` at `now`: the one this isolate
    /// signed for the same token and service while more than
    /// [`RESIGN_MARGIN_SECS`](crate::assertion::RESIGN_MARGIN_SECS) of its life remain
    /// (no signature, no await), else a new one ([`Minter::sign_assertion`]), kept for reuse.
    pub async fn identity_assertion(
        &self,
        ed25519: &impl Ed25519,
        request: &AssertedRequest<'_>,
        now: Now,
    ) -> Rc<str> {
        if let Some(cached) = self.assertions.get(request, now) {
            return cached;
        }
        let signed = self.sign_assertion(ed25519, request, now).await;
        self.assertions.put(request, &signed)
    }

    /// Signs an identity assertion for `request` at `now` with the runtime's `ed25519`: one
    /// signature, nothing cached.
    pub async fn sign_assertion(
        &self,
        ed25519: &impl Ed25519,
        request: &AssertedRequest<'_>,
        now: Now,
    ) -> SignedAssertion {
        let audience = self.services.of(request.service);
        let claims = assertion_claims(&self.issuer, &audience, request, now);
        let signing_input = jws_signing_input(&self.signing_key, ASSERTION_TYP, &claims);
        let signature = ed25519
            .sign(&self.signing_key, signing_input.as_bytes())
            .await;
        SignedAssertion {
            assertion: with_signature(signing_input, signature),
            issued_at: claims.iat,
            expires_at: claims.exp,
        }
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
            user_id: 1,
            user: "root".into(),
            kind: CredentialKind::OAuth2,
            secret_hash: None,
            scopes: ScopeSet::default(),
            expires_at,
            enabled: true,
            created_at: 0,
            can_introspect: false,
            require_dpop: false,
            lifecycle: Default::default(),
        }
    }

    fn issue(credential: &Credential, lifetime_secs: Option<i64>) -> IssuedToken {
        let minter = Minter::new(
            SigningKey::from_seed([1; 32]),
            "https://i",
            "https://a",
            "i",
            3600,
        );
        let scopes = ScopeSet::all_services();
        let grant = Grant {
            credential,
            scopes: &scopes,
            lifetime_secs,
            jkt: None,
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
            (c.iss.as_str(), c.aud.single().unwrap(), c.sub.as_str()),
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
