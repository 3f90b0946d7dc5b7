//! The origin-token cache under overlapping requests, driven by hand (a gated token endpoint,
//! futures polled in turn as an isolate interleaves them at their awaits).

use super::*;
use serde_json::json;

const TOKEN_URL: &str = "https://auth.example.net/oauth2/token";

fn reply(status: u16, body: serde_json::Value) -> TokenReply {
    TokenReply {
        status,
        body: body.to_string().into_bytes(),
    }
}

/// A token endpoint whose answers wait until the test opens the gate: requests overlap as
/// they do in an isolate, interleaved at their awaits.
#[derive(Default)]
struct GatedEndpoint {
    open: std::cell::Cell<bool>,
    fetches: std::cell::Cell<usize>,
}

impl OriginSecrets for GatedEndpoint {
    fn secret(&self, _: &str) -> Option<String> {
        Some("client-secret".into())
    }

    fn fetch_token(
        &self,
        _: TokenFetch,
    ) -> crate::capability::LocalFuture<'_, Result<TokenReply, String>> {
        self.fetches.set(self.fetches.get() + 1);
        let n = self.fetches.get();
        Box::pin(std::future::poll_fn(move |_| match self.open.get() {
            true => std::task::Poll::Ready(Ok(reply(
                200,
                json!({"access_token": format!("t{n}"), "token_type": "Bearer", "expires_in": 600}),
            ))),
            false => std::task::Poll::Pending,
        }))
    }
}

fn poll<F: std::future::Future + ?Sized>(f: &mut std::pin::Pin<Box<F>>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

fn creds() -> ClientCredentials {
    let spec = format!("oauth2-client-credentials:{TOKEN_URL},gw,S");
    let UpstreamAuth::ClientCredentials(c) = UpstreamAuth::parse(&spec).unwrap() else {
        panic!()
    };
    c
}

#[test]
fn concurrent_first_requests_share_one_token_fetch_where_loads_may_be_shared() {
    let (endpoint, creds) = (GatedEndpoint::default(), creds());
    let now = crate::Now::from_unix_ms(1_000_000);
    let tokens = OriginTokens::new(true);
    let mut a = Box::pin(tokens.header(&creds, &endpoint, now));
    let mut b = Box::pin(tokens.header(&creds, &endpoint, now));
    assert!(poll(&mut a).is_none() && poll(&mut b).is_none());
    endpoint.open.set(true);
    assert_eq!(poll(&mut a), Some(Ok("Bearer t1".into())));
    assert_eq!(poll(&mut b), Some(Ok("Bearer t1".into())));
    assert_eq!(endpoint.fetches.get(), 1);

    // Where a request may not await another's I/O (workerd), each cold request fetches.
    let (endpoint, isolated) = (GatedEndpoint::default(), OriginTokens::new(false));
    let mut a = Box::pin(isolated.header(&creds, &endpoint, now));
    let mut b = Box::pin(isolated.header(&creds, &endpoint, now));
    assert!(poll(&mut a).is_none() && poll(&mut b).is_none());
    assert_eq!(endpoint.fetches.get(), 2);
}

#[test]
fn one_request_refreshes_while_the_others_send_the_still_valid_token() {
    let (endpoint, creds) = (GatedEndpoint::default(), creds());
    let tokens = OriginTokens::new(false);
    let t0 = crate::Now::from_unix_ms(1_000_000);
    endpoint.open.set(true);
    assert_eq!(
        poll(&mut Box::pin(tokens.header(&creds, &endpoint, t0))),
        Some(Ok("Bearer t1".into()))
    );
    // 600 s lifetime: from 540 s on, refreshed.
    endpoint.open.set(false);
    let later = crate::Now::from_unix_ms(1_000_000 + 545_000);
    let mut refreshing = Box::pin(tokens.header(&creds, &endpoint, later));
    assert!(poll(&mut refreshing).is_none());
    for _ in 0..5 {
        assert_eq!(
            poll(&mut Box::pin(tokens.header(&creds, &endpoint, later))),
            Some(Ok("Bearer t1".into()))
        );
    }
    assert_eq!(endpoint.fetches.get(), 2, "one refresh at a time");
    endpoint.open.set(true);
    assert_eq!(poll(&mut refreshing), Some(Ok("Bearer t2".into())));
    assert_eq!(
        poll(&mut Box::pin(tokens.header(&creds, &endpoint, later))),
        Some(Ok("Bearer t2".into()))
    );
    // A refresh abandoned half way (its request cancelled) lets the next request refresh.
    let much_later = crate::Now::from_unix_ms(1_000_000 + 545_000 + 545_000);
    endpoint.open.set(false);
    let mut cancelled = Box::pin(tokens.header(&creds, &endpoint, much_later));
    assert!(poll(&mut cancelled).is_none());
    drop(cancelled);
    let mut next = Box::pin(tokens.header(&creds, &endpoint, much_later));
    assert!(poll(&mut next).is_none());
    assert_eq!(endpoint.fetches.get(), 4);
}
