//! Who is calling, through which request. Every service method that reads or changes data takes
//! a [`Caller`]: the principal to decide on and the request to record in the audit trail, so a
//! decision and its record always belong together. Only `auth` makes one, from a validated token
//! or a browser session.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::config::ForwardedHeader;
use crate::policy::Principal;

const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub request: RequestInfo,
}

/// The HTTP request an audit event belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
            (Some(peer), None) => peer.ip().to_canonical().to_string(),
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

/// The reverse proxies (`server.trusted_proxies`) whose forwarding header is believed, and which
/// header that is (`server.forwarded_header`). From anyone else it is ignored — a client could
/// write anything there — and the other header is never read, so that a proxy which appends to
/// one passes no address a client smuggled into the other.
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { networks, header }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: walking the forwarding chain from the right (the hop nearest to
    /// this server), the first address that is not a trusted proxy. An unreadable hop ends the
    /// walk at the last trusted one.
    pub fn client_of(&self, peer: IpAddr, req: &HttpRequest) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => header::HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => header::FORWARDED,
        };
        let hops: Vec<&str> =
            req.headers().get_all(name).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let address = match self.header {
                ForwardedHeader::XForwardedFor => Some(hop.trim()),
                // `for=` among the element's pairs; parameter names are case-insensitive.
                ForwardedHeader::Forwarded => hop.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for").then_some(value)
                }),
            };
            match address.and_then(parse_hop).map(|ip| ip.to_canonical()) {
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
        let (address, after) = rest.split_once(']')?;
        return (after.is_empty() || after.starts_with(':')).then(|| address.parse().ok()).flatten();
    }
    hop.rsplit_once(':').and_then(|(host, _)| host.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")], header)
    }

    #[test]
    fn the_forwarding_header_counts_only_from_trusted_proxies() {
        use ForwardedHeader::{Forwarded, XForwardedFor};
        let peer: IpAddr = "10.1.2.3".parse().expect("ip");
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        let outsider: IpAddr = "198.51.100.9".parse().expect("ip");
        let cases = [
            (XForwardedFor, peer, vec![("x-forwarded-for", "203.0.113.7")], "203.0.113.7"),
            (XForwardedFor, mapped, vec![("x-forwarded-for", "203.0.113.7")], "203.0.113.7"),
            (XForwardedFor, peer, vec![("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.9.9.9")], "203.0.113.7"),
            // A proxy that appends to X-Forwarded-For passes the client's own Forwarded along.
            (
                XForwardedFor,
                peer,
                vec![("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "203.0.113.8")],
                "203.0.113.8",
            ),
            (XForwardedFor, peer, vec![("forwarded", "for=6.6.6.6")], "10.1.2.3"),
            (Forwarded, peer, vec![("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")], "2001:db8::1"),
            (Forwarded, peer, vec![("forwarded", "For=203.0.113.9")], "203.0.113.9"),
            (Forwarded, peer, vec![("x-forwarded-for", "6.6.6.6")], "10.1.2.3"),
            (Forwarded, peer, vec![("forwarded", "for=\"[2001:db8::1]junk\"")], "10.1.2.3"),
            (XForwardedFor, peer, vec![("x-forwarded-for", "not-an-address")], "10.1.2.3"),
            (XForwardedFor, peer, vec![], "10.1.2.3"),
            (XForwardedFor, outsider, vec![("x-forwarded-for", "203.0.113.7")], "198.51.100.9"),
            (Forwarded, outsider, vec![("forwarded", "for=203.0.113.7")], "198.51.100.9"),
        ];
        for (header, from, headers, expected) in cases {
            let mut request = TestRequest::default();
            for pair in &headers {
                request = request.insert_header(*pair);
            }
            let client = proxies(header).client_of(from, &request.to_http_request());
            assert_eq!(client.to_string(), expected, "{header:?} {from} {headers:?}");
        }
    }
}
