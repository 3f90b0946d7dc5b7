//! Ed25519 through Web Crypto: native code in workerd, several times faster than the portable
//! implementation compiled to wasm (see bench/); and client assertions' signatures (EdDSA,
//! ES256, RS256), which cost the worker no crypto code of its own.

use crate::entry::console_error;
use crate::glue::{
    js_ed25519_sign, js_ed25519_verify, js_import_signing_key, js_import_verifying_key,
    js_jws_verify,
};
use isogate_core::capability::{Ed25519, LocalFuture};
use isogate_core::jws::{JwsAlg, JwsVerifier, PublicJwk};
use isogate_core::keys::{SigningKey, VerifyingKey};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The core's [`Ed25519`] over Web Crypto. Keys are imported once per isolate. Web Crypto is
/// the only implementation in the worker: workerd (and so every Workers location, Miniflare
/// and `wrangler dev`) has had Ed25519 in Web Crypto since 2023, and the portable one as a
/// fallback cost ~9 KiB of the 200 KiB gzip budget for a case that never occurs. Should it
/// fail anyway, verification fails closed (the token is refused) and signing throws: the
/// request ends in the runtime's own error, never a token or assertion with a bad signature.
#[derive(Default)]
pub struct WebCryptoEd25519 {
    signing_key: RefCell<Option<JsValue>>,
    /// By kid: the signing key's, those of a rotation, and clients' DPoP keys (RFC 9449),
    /// at most [`MAX_IMPORTED_KEYS`], the oldest import out first.
    verifying_keys: RefCell<Vec<(String, JsValue)>>,
}

/// Verifying keys kept imported: clients' DPoP keys come and go, so the list is bounded (a
/// key that fell out is imported again, one Web Crypto call).
const MAX_IMPORTED_KEYS: usize = 32;

thread_local! {
    static ED25519: Rc<WebCryptoEd25519> = Rc::new(WebCryptoEd25519::default());
}

/// The isolate's instance (its imported keys are reused by every request).
pub fn ed25519() -> Rc<WebCryptoEd25519> {
    ED25519.with(Rc::clone)
}

impl WebCryptoEd25519 {
    async fn try_sign(&self, key: &SigningKey, message: &[u8]) -> Result<[u8; 64], JsValue> {
        // (Bound first: a borrow in the match scrutinee would live across the await.)
        let cached = self.signing_key.borrow().clone();
        let crypto_key = match cached {
            Some(k) => k,
            None => {
                let k = JsFuture::from(js_import_signing_key(&key.pkcs8_der())).await?;
                *self.signing_key.borrow_mut() = Some(k.clone());
                k
            }
        };
        let signature = JsFuture::from(js_ed25519_sign(&crypto_key, message)).await?;
        let signature = js_sys::Uint8Array::from(signature).to_vec();
        signature
            .try_into()
            .map_err(|_| JsValue::from_str("signature is not 64 bytes"))
    }

    async fn try_verify(
        &self,
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<bool, JsValue> {
        let cached = self
            .verifying_keys
            .borrow()
            .iter()
            .find(|(kid, _)| *kid == key.kid)
            .map(|(_, k)| k.clone());
        let crypto_key = match cached {
            Some(k) => k,
            None => {
                let k = JsFuture::from(js_import_verifying_key(&key.raw())).await?;
                let mut keys = self.verifying_keys.borrow_mut();
                if keys.len() >= MAX_IMPORTED_KEYS {
                    keys.remove(0);
                }
                keys.push((key.kid.clone(), k.clone()));
                k
            }
        };
        let genuine = JsFuture::from(js_ed25519_verify(&crypto_key, signature, message)).await?;
        Ok(genuine.as_bool() == Some(true))
    }
}

impl Ed25519 for WebCryptoEd25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        match self.try_sign(key, message).await {
            Ok(signature) => signature,
            Err(e) => {
                console_error(&format!(
                    "isogate: Web Crypto Ed25519 signing failed: {e:?}"
                ));
                wasm_bindgen::throw_str("isogate: Web Crypto Ed25519 signing is unavailable")
            }
        }
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        match self.try_verify(key, message, signature).await {
            Ok(genuine) => genuine,
            Err(e) => {
                console_error(&format!(
                    "isogate: Web Crypto Ed25519 verification failed: {e:?}"
                ));
                false
            }
        }
    }
}

/// The core's [`JwsVerifier`] over Web Crypto: Ed25519, ECDSA P-256 with SHA-256 (JWS's
/// `r || s` is Web Crypto's own signature form) and RSASSA-PKCS1-v1_5 with SHA-256. The key is
/// imported for each check (an assertion is checked once per token request).
#[derive(Clone, Copy, Debug, Default)]
pub struct WebCryptoJws;

impl JwsVerifier for WebCryptoJws {
    fn verify<'a>(
        &'a self,
        alg: JwsAlg,
        key: &'a PublicJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, bool> {
        Box::pin(async move {
            if alg != key.algorithm() {
                return false;
            }
            let jwk = key.required_members();
            let promise = js_jws_verify(alg.as_str(), &jwk, signature, signing_input);
            match JsFuture::from(promise).await {
                Ok(genuine) => genuine.as_bool() == Some(true),
                Err(e) => {
                    console_error(&format!(
                        "isogate: Web Crypto signature check failed: {e:?}"
                    ));
                    false
                }
            }
        })
    }
}
