//! A subset of Spin's `allowed_outbound_hosts` syntax.
//!
//! Supported entries (one per `--allowed-outbound-host`):
//! - `SCHEME://HOST[:PORT]`, with SCHEME `http`, `https` or `*`;
//!   HOST an exact name or IP literal (`127.0.0.1`, `localhost`, `[::1]`), `*` (any host) or
//!   `*.example.com` (any subdomain of example.com, not example.com itself);
//!   PORT a number or `*`. Without a port, the scheme's default port (80 / 443) is meant; with
//!   scheme `*` and no port, the default port of whichever scheme the request uses.
//! - `insecure:allow-all` (everything).
//!
//! Not supported (rejected at start-up): port ranges, CIDR ranges, `{{ template }}`
//! expressions, paths, and Spin's service chaining hosts (`self`, `*.spin.internal`).

use http::Uri;

#[derive(Debug, Clone, PartialEq)]
enum Scheme {
    Any,
    Named(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Host {
    Any,
    SubdomainOf(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Port {
    Any,
    Default,
    Exact(u16),
}

#[derive(Debug, Clone)]
struct Entry {
    scheme: Scheme,
    host: Host,
    port: Port,
}

#[derive(Debug, Default)]
pub struct AllowList {
    allow_all: bool,
    entries: Vec<Entry>,
    raw: Vec<String>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowList {
    pub fn parse(raw: &[String]) -> Result<AllowList, String> {
        let mut list = AllowList {
            raw: raw.to_vec(),
            ..AllowList::default()
        };
        for entry in raw {
            let e = entry.trim();
            if e == "insecure:allow-all" {
                list.allow_all = true;
                continue;
            }
            list.entries.push(
                parse_entry(e)
                    .map_err(|why| format!("--allowed-outbound-host {entry:?}: {why}"))?,
            );
        }
        Ok(list)
    }

    pub fn describe(&self) -> String {
        format!("{:?}", self.raw)
    }

    pub fn allows(&self, uri: &Uri) -> bool {
        if self.allow_all {
            return true;
        }
        let Some(scheme) = uri.scheme_str().map(|s| s.to_ascii_lowercase()) else {
            return false;
        };
        let Some(host) = uri.host().map(|h| h.to_ascii_lowercase()) else {
            return false;
        };
        let Some(port) = uri.port_u16().or_else(|| default_port(&scheme)) else {
            return false;
        };
        self.entries.iter().any(|e| {
            let scheme_ok = match &e.scheme {
                Scheme::Any => true,
                Scheme::Named(s) => *s == scheme,
            };
            let host_ok = match &e.host {
                Host::Any => true,
                Host::Exact(h) => *h == host,
                Host::SubdomainOf(d) => {
                    host.len() > d.len() + 1 && host.ends_with(&format!(".{d}"))
                }
            };
            let port_ok = match &e.port {
                Port::Any => true,
                Port::Exact(p) => *p == port,
                Port::Default => match &e.scheme {
                    Scheme::Named(s) => default_port(s) == Some(port),
                    Scheme::Any => default_port(&scheme) == Some(port),
                },
            };
            scheme_ok && host_ok && port_ok
        })
    }
}

fn parse_entry(e: &str) -> Result<Entry, String> {
    if e.contains("{{") {
        return Err("template expressions are not supported by this test host".into());
    }
    let (scheme, rest) = e.split_once("://").ok_or("expected SCHEME://HOST[:PORT]")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "*" => Scheme::Any,
        s @ ("http" | "https") => Scheme::Named(s.to_string()),
        other => return Err(format!("unsupported scheme {other:?} (http, https or *)")),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err("paths are not allowed".into());
    }
    // Split HOST[:PORT], minding bracketed IPv6 literals.
    let (host, port) = if let Some(after) = rest.strip_prefix('[') {
        let (h, tail) = after.split_once(']').ok_or("unterminated [IPv6] literal")?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or("expected :PORT after ]")?),
        };
        (format!("[{h}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let host = host.to_ascii_lowercase();
    let host = if host == "*" {
        Host::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        if domain.is_empty() || domain.contains('*') {
            return Err("bad wildcard host".into());
        }
        if domain == "spin.internal" {
            return Err("service chaining (*.spin.internal) is not supported".into());
        }
        Host::SubdomainOf(domain.to_string())
    } else if host.is_empty() || host.contains('*') {
        return Err("bad host".into());
    } else if host == "self" {
        return Err("`self` (same-application requests) is not supported".into());
    } else if host.contains('/') {
        return Err("CIDR ranges are not supported".into());
    } else {
        Host::Exact(host)
    };
    let port = match port {
        None => Port::Default,
        Some("*") => Port::Any,
        Some(p) if p.contains("..") => return Err("port ranges are not supported".into()),
        Some(p) => Port::Exact(p.parse().map_err(|_| format!("bad port {p:?}"))?),
    };
    Ok(Entry { scheme, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ok(l: &AllowList, url: &str) -> bool {
        l.allows(&url.parse().unwrap())
    }

    #[test]
    fn exact_entries() {
        let l = list(&["http://127.0.0.1:9000", "https://example.com"]);
        assert!(ok(&l, "http://127.0.0.1:9000/x?y"));
        assert!(!ok(&l, "http://127.0.0.1:9001/"));
        assert!(!ok(&l, "https://127.0.0.1:9000/"));
        assert!(!ok(&l, "http://localhost:9000/"));
        assert!(ok(&l, "https://example.com/"));
        assert!(ok(&l, "https://EXAMPLE.com:443/"));
        assert!(!ok(&l, "https://example.com:8443/"));
        assert!(!ok(&l, "http://example.com/"));
        assert!(!ok(&l, "https://api.example.com/"));
    }

    #[test]
    fn wildcards() {
        let l = list(&["http://127.0.0.1:*"]);
        assert!(ok(&l, "http://127.0.0.1:1/"));
        assert!(ok(&l, "http://127.0.0.1/"));
        assert!(!ok(&l, "https://127.0.0.1:1/"));
        let l = list(&["http://*:*"]);
        assert!(ok(&l, "http://anything:123/"));
        assert!(!ok(&l, "https://anything:123/"));
        let l = list(&["*://*:*"]);
        assert!(ok(&l, "https://anything:123/"));
        let l = list(&["https://*.example.com"]);
        assert!(ok(&l, "https://a.b.example.com/"));
        assert!(!ok(&l, "https://example.com/"));
        assert!(!ok(&l, "https://badexample.com/"));
        let l = list(&["*://localhost"]);
        assert!(ok(&l, "http://localhost/"));
        assert!(ok(&l, "https://localhost/"));
        assert!(!ok(&l, "http://localhost:443/"));
        let l = list(&["http://[::1]:8080"]);
        assert!(ok(&l, "http://[::1]:8080/"));
        let l = list(&["insecure:allow-all"]);
        assert!(ok(&l, "https://x.y:1/"));
        let l = list(&[]);
        assert!(!ok(&l, "http://127.0.0.1:9000/"));
    }

    #[test]
    fn rejects_unsupported() {
        for bad in [
            "127.0.0.1:9000",
            "ftp://x",
            "http://x:1..5",
            "http://{{ host }}",
            "http://self",
            "http://*.spin.internal",
            "http://x/path",
            "http://x:port",
        ] {
            assert!(AllowList::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
