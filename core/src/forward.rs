//! Planning the forward of an authorized request to the service's origin, and filtering the
//! origin's response: which headers go, which are stripped, which identity is attached.
//! The runtime performs the fetch and streams both bodies; nothing here touches a body.

use crate::http::RequestHead;
use crate::model::Service;

/// Identity attached to the forwarded request: what the gateway verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub client_id: String,
    pub credential: String,
    pub scope: String,
    /// The token's `jti`, for the origin's audit log.
    pub token_id: String,
}

/// What the runtime should send to the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardPlan {
    pub method: String,
    /// Absolute URL: upstream base + request path + query.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Whether the incoming request has a body to stream on (methods other than GET/HEAD).
    pub has_body: bool,
}

/// Prefix of the identity headers. Any the client sent are removed so an origin can trust them.
pub const IDENTITY_HEADER_PREFIX: &str = "x-isogate-";

/// Hop-by-hop headers (RFC 9110 §7.6.1), plus those that must not cross a proxy: `host` (the
/// fetch sets its own), `expect` (a forwarded `100-continue` breaks the runtimes' fetch), and
/// the `proxy-*` family.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
];

/// Headers carrying the inbound credential or client-asserted forwarding data.
const INBOUND_CREDENTIAL_AND_FORWARDING: &[&str] =
    &["authorization", "x-octelium-auth", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"];

/// Names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
fn connection_listed(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || name.starts_with("proxy-") || listed.iter().any(|l| l == name)
}

/// Builds the forward: same method, path, query and end-to-end headers; the credential, any
/// client-sent identity and hop-by-hop headers removed; verified identity and `X-Forwarded-*`
/// added.
pub fn plan_forward(head: &RequestHead, service: &Service, principal: &Principal) -> ForwardPlan {
    let listed = connection_listed(&head.headers);
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| {
            !is_hop_by_hop(n, &listed) && !INBOUND_CREDENTIAL_AND_FORWARDING.contains(&n.as_str()) && !n.starts_with(IDENTITY_HEADER_PREFIX)
        })
        .collect();
    let identity = [
        ("x-isogate-user", principal.user.as_str()),
        ("x-isogate-service", service.name.as_str()),
        ("x-isogate-credential", principal.credential.as_str()),
        ("x-isogate-client-id", principal.client_id.as_str()),
        ("x-isogate-scope", principal.scope.as_str()),
        ("x-isogate-token-id", principal.token_id.as_str()),
    ];
    headers.extend(identity.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    // The edge is the trust boundary: what the client claimed about forwarding is replaced, not
    // appended to.
    if let Some(ip) = &head.client_ip {
        headers.push(("x-forwarded-for".into(), ip.clone()));
    }
    headers.push(("x-forwarded-proto".into(), head.scheme.clone()));
    headers.push(("x-forwarded-host".into(), head.host.clone()));

    let mut url = String::with_capacity(service.upstream.len() + head.path.len() + 16);
    url.push_str(&service.upstream);
    url.push_str(if head.path.is_empty() { "/" } else { &head.path });
    if let Some(q) = &head.query {
        url.push('?');
        url.push_str(q);
    }
    let has_body = !matches!(head.method.as_str(), "GET" | "HEAD");
    ForwardPlan { method: head.method.clone(), url, headers, has_body }
}

/// Filters the origin's response headers before they go back to the client: hop-by-hop
/// headers out (the runtime frames the response itself).
pub fn filter_response_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let listed = connection_listed(headers);
    headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| !is_hop_by_hop(n, &listed))
        .collect()
}

/// Whether the runtime can relay this origin status as a normal response. 1xx (including
/// `101 Switching Protocols`) cannot be relayed through a plain fetch and becomes a 502.
pub fn is_relayable_status(status: u16) -> bool {
    (200..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            scheme: "https".into(),
            host: "my-api.example.com".into(),
            path: "/anything/a%20b".into(),
            query: Some("x=1&y=2".into()),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            client_ip: Some("203.0.113.7".into()),
        }
    }

    fn service() -> Service {
        Service { name: "my-api".into(), upstream: "http://127.0.0.1:9000/base".into(), allowed_users: vec![], created_at: 0 }
    }

    fn principal() -> Principal {
        Principal { user: "root".into(), client_id: "abcd-efgh".into(), credential: "c".into(), scope: "service:*".into(), token_id: "j".into() }
    }

    fn get<'a>(plan: &'a ForwardPlan, name: &str) -> Vec<&'a str> {
        plan.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn path_and_query_are_kept_verbatim_under_the_upstream_base() {
        let plan = plan_forward(&head(&[]), &service(), &principal());
        assert_eq!(plan.url, "http://127.0.0.1:9000/base/anything/a%20b?x=1&y=2");
        assert_eq!(plan.method, "POST");
        assert!(plan.has_body);
    }

    #[test]
    fn inbound_credential_never_reaches_the_origin() {
        let plan = plan_forward(&head(&[("Authorization", "Bearer t"), ("X-Octelium-Auth", "t")]), &service(), &principal());
        assert!(get(&plan, "authorization").is_empty());
        assert!(get(&plan, "x-octelium-auth").is_empty());
        assert!(!plan.headers.iter().any(|(_, v)| v == "Bearer t" || v == "t"));
    }

    #[test]
    fn client_sent_identity_headers_are_replaced_by_verified_ones() {
        let plan = plan_forward(&head(&[("X-Isogate-User", "admin"), ("x-isogate-anything", "x")]), &service(), &principal());
        assert_eq!(get(&plan, "x-isogate-user"), vec!["root"]);
        assert_eq!(get(&plan, "x-isogate-service"), vec!["my-api"]);
        assert!(get(&plan, "x-isogate-anything").is_empty());
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_stripped() {
        let plan = plan_forward(
            &head(&[("Connection", "close, X-Custom"), ("X-Custom", "1"), ("Keep-Alive", "5"), ("TE", "trailers"), ("Expect", "100-continue"), ("Host", "h"), ("Upgrade", "websocket"), ("Proxy-Foo", "1"), ("Accept", "*/*")]),
            &service(),
            &principal(),
        );
        for gone in ["connection", "x-custom", "keep-alive", "te", "expect", "host", "upgrade", "proxy-foo"] {
            assert!(get(&plan, gone).is_empty(), "{gone} was forwarded");
        }
        assert_eq!(get(&plan, "accept"), vec!["*/*"]);
    }

    #[test]
    fn forwarding_headers_are_set_by_the_edge_not_the_client() {
        let plan = plan_forward(&head(&[("X-Forwarded-For", "1.2.3.4"), ("Forwarded", "for=1.2.3.4")]), &service(), &principal());
        assert_eq!(get(&plan, "x-forwarded-for"), vec!["203.0.113.7"]);
        assert_eq!(get(&plan, "x-forwarded-proto"), vec!["https"]);
        assert_eq!(get(&plan, "x-forwarded-host"), vec!["my-api.example.com"]);
        assert!(get(&plan, "forwarded").is_empty());
    }

    #[test]
    fn response_hop_by_hop_headers_are_stripped() {
        let out = filter_response_headers(&[("Transfer-Encoding".into(), "chunked".into()), ("Content-Type".into(), "text/plain".into()), ("Connection".into(), "keep-alive".into())]);
        assert_eq!(out, vec![("content-type".to_string(), "text/plain".to_string())]);
    }

    #[test]
    fn informational_statuses_are_not_relayed() {
        assert!(!is_relayable_status(100));
        assert!(!is_relayable_status(101));
        assert!(is_relayable_status(200) && is_relayable_status(599));
    }
}
