//! Ed25519 through Web Crypto: native code in workerd, several times faster than the portable
//! implementation compiled to wasm (see bench/).

use crate::glue::{
    js_ed25519_sign, js_ed25519_verify, js_import_signing_key, js_import_verifying_key,
};
use isogate_core::capability::{Ed25519, PortableEd25519};
use isogate_core::keys::{SigningKey, VerifyingKey};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::console_warn;

/// The core's [`Ed25519`] over Web Crypto. Keys are imported once per isolate. Should Web
/// Crypto fail (a runtime without Ed25519), the portable implementation answers instead, and
/// from then on for the isolate's life: both compute the same RFC 8032 Ed25519.
#[derive(Default)]
pub struct WebCryptoEd25519 {
    signing_key: RefCell<Option<JsValue>>,
    /// By kid; a handful at most (the signing key's and those of a rotation).
    verifying_keys: RefCell<Vec<(String, JsValue)>>,
    unavailable: Cell<bool>,
}

thread_local! {
    static ED25519: Rc<WebCryptoEd25519> = Rc::new(WebCryptoEd25519::default());
}

/// The isolate's instance (its imported keys are reused by every request).
pub fn ed25519() -> Rc<WebCryptoEd25519> {
    ED25519.with(Rc::clone)
}

impl WebCryptoEd25519 {
    fn give_up(&self, what: &str, e: JsValue) {
        if !self.unavailable.replace(true) {
            console_warn!(
                "isogate: Web Crypto Ed25519 {what} failed ({e:?}); using the portable implementation"
            );
        }
    }

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
                self.verifying_keys
                    .borrow_mut()
                    .push((key.kid.clone(), k.clone()));
                k
            }
        };
        let genuine = JsFuture::from(js_ed25519_verify(&crypto_key, signature, message)).await?;
        Ok(genuine.as_bool() == Some(true))
    }
}

impl Ed25519 for WebCryptoEd25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        if !self.unavailable.get() {
            match self.try_sign(key, message).await {
                Ok(signature) => return signature,
                Err(e) => self.give_up("signing", e),
            }
        }
        PortableEd25519.sign(key, message).await
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        if !self.unavailable.get() {
            match self.try_verify(key, message, signature).await {
                Ok(genuine) => return genuine,
                Err(e) => self.give_up("verification", e),
            }
        }
        PortableEd25519.verify(key, message, signature).await
    }
}
