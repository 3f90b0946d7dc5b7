//! [`FakeSecrets`]: a runtime's secret store and token endpoint for upstream credentials
//! (`crate::upstream_auth`), with the fetches counted and the last request kept.

use crate::capability::{DocumentReply, LocalFuture, OriginSecrets};
use crate::upstream_auth::{TokenFetch, TokenReply};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Secrets by name and a token endpoint answering `reply` (shared through `Rc`, so a test
/// keeps a handle on the counts after giving the harness its copy).
#[derive(Clone)]
pub struct FakeSecrets {
    pub values: Rc<RefCell<HashMap<String, String>>>,
    /// What the token endpoint answers; `Err`: the runtime's fetch failed.
    pub reply: Rc<RefCell<Result<TokenReply, String>>>,
    pub fetches: Rc<Cell<usize>>,
    pub last_fetch: Rc<RefCell<Option<TokenFetch>>>,
    /// Public documents by URL (a JWKS a client publishes), answered 200 with
    /// `Cache-Control: max-age=300`; any other URL is a failed fetch.
    pub documents: Rc<RefCell<HashMap<String, String>>>,
    pub document_fetches: Rc<Cell<usize>>,
}

impl FakeSecrets {
    pub fn with(values: &[(&str, &str)]) -> FakeSecrets {
        let fake = FakeSecrets::default();
        for (k, v) in values {
            fake.values
                .borrow_mut()
                .insert(k.to_string(), v.to_string());
        }
        fake.answer_token("origin-token-1", Some(3600));
        fake
    }

    /// The token endpoint answers 200 with this token (RFC 6749 §5.1).
    pub fn answer_token(&self, token: &str, expires_in: Option<u64>) {
        let mut body = serde_json::json!({"access_token": token, "token_type": "Bearer"});
        if let Some(e) = expires_in {
            body["expires_in"] = e.into();
        }
        *self.reply.borrow_mut() = Ok(TokenReply {
            status: 200,
            body: body.to_string().into_bytes(),
        });
    }

    pub fn answer(&self, reply: Result<TokenReply, String>) {
        *self.reply.borrow_mut() = reply;
    }

    /// Serves `body` at `url` from now on (`None`: no longer).
    pub fn publish(&self, url: &str, body: Option<String>) {
        let mut documents = self.documents.borrow_mut();
        match body {
            Some(body) => documents.insert(url.to_owned(), body),
            None => documents.remove(url),
        };
    }
}

impl OriginSecrets for FakeSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        self.values.borrow().get(name).cloned()
    }

    fn fetch_token(&self, request: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        self.fetches.set(self.fetches.get() + 1);
        *self.last_fetch.borrow_mut() = Some(request);
        let reply = self.reply.borrow().clone();
        Box::pin(async move { reply })
    }

    fn fetch_document(
        &self,
        url: &str,
        _timeout_ms: u64,
    ) -> LocalFuture<'_, Result<DocumentReply, String>> {
        self.document_fetches.set(self.document_fetches.get() + 1);
        let reply = match self.documents.borrow().get(url) {
            Some(body) => Ok(DocumentReply {
                status: 200,
                body: body.clone().into_bytes(),
                cache_control: Some("max-age=300".into()),
            }),
            None => Err("connection refused".to_owned()),
        };
        Box::pin(async move { reply })
    }
}

impl Default for FakeSecrets {
    fn default() -> Self {
        FakeSecrets {
            values: Rc::default(),
            reply: Rc::new(RefCell::new(Err("no token endpoint".into()))),
            fetches: Rc::default(),
            last_fetch: Rc::default(),
            documents: Rc::default(),
            document_fetches: Rc::default(),
        }
    }
}
