//! Who is calling, through which request. Every service method that reads or changes data takes
//! a [`Caller`]: the principal to decide on and the request to record in the audit trail, so a
//! decision and its record always belong together. Only `auth` makes one, from a validated token
//! or a browser session.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::policy::Principal;

const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub request: RequestInfo,
}

/// The HTTP request an audit event belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: String,
    pub ip: String,
    pub user_agent: String,
}

impl RequestInfo {
    /// Request id (of the tracing span), client address and user agent. The client address is
    /// the TCP peer's, unless the peer is a trusted proxy ([`TrustedProxies`]): then it is the
    /// address the proxies' forwarding headers name.
    pub fn of(req: &HttpRequest) -> Self {
        let id = req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let trusted = req.app_data::<web::Data<TrustedProxies>>();
        let ip = match (req.peer_addr(), trusted) {
            (Some(peer), Some(trusted)) => trusted.client_of(peer.ip(), req).to_string(),
            (Some(peer), None) => peer.ip().to_string(),
            (None, _) => String::new(),
        };
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        Self { id, ip, user_agent }
    }
}

/// The reverse proxies (`server.trusted_proxies`) whose forwarding headers are believed. From
/// anyone else `X-Forwarded-For` and `Forwarded` are ignored: a client could write anything there.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: walking the forwarding chain from the right (the hop nearest to
    /// this server), the first address that is not a trusted proxy. `Forwarded` (RFC 7239) wins
    /// over `X-Forwarded-For`; an unreadable chain leaves the last trusted hop.
    pub fn client_of(&self, peer: IpAddr, req: &HttpRequest) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let values = |name| {
            req.headers().get_all(name).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
        };
        let forwarded: Vec<&str> = values(header::FORWARDED)
            .filter_map(|element| element.split(';').find_map(|pair| pair.trim().strip_prefix("for=")))
            .collect();
        let chain: Vec<&str> = if forwarded.is_empty() {
            values(header::HeaderName::from_static("x-forwarded-for")).collect()
        } else {
            forwarded
        };
        let mut client = peer;
        for hop in chain.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

/// An address as forwarding headers write it: `203.0.113.7`, `"[2001:db8::1]:4711"`, `1.2.3.4:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    hop.rsplit_once(':').and_then(|(host, _)| host.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")])
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let peer: IpAddr = "10.1.2.3".parse().expect("ip");
        let outsider: IpAddr = "198.51.100.9".parse().expect("ip");
        let cases = [
            (peer, vec![("x-forwarded-for", "203.0.113.7")], "203.0.113.7"),
            (peer, vec![("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.9.9.9")], "203.0.113.7"),
            (peer, vec![("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")], "2001:db8::1"),
            (peer, vec![("forwarded", "for=203.0.113.8"), ("x-forwarded-for", "1.1.1.1")], "203.0.113.8"),
            (peer, vec![("x-forwarded-for", "not-an-address")], "10.1.2.3"),
            (peer, vec![], "10.1.2.3"),
            (outsider, vec![("x-forwarded-for", "203.0.113.7")], "198.51.100.9"),
            (outsider, vec![("forwarded", "for=203.0.113.7")], "198.51.100.9"),
        ];
        for (from, headers, expected) in cases {
            let mut request = TestRequest::default();
            for header in &headers {
                request = request.insert_header(*header);
            }
            let client = proxies().client_of(from, &request.to_http_request());
            assert_eq!(client.to_string(), expected, "{from} {headers:?}");
        }
    }
}
