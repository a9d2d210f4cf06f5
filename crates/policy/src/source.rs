//! Source addresses: per-partner CIDR allowlists, and which address a request comes from.
//!
//! The address is the TCP peer's. `X-Forwarded-For` is believed only when the peer is a
//! configured trusted proxy, and then only as far as the chain of trusted proxies reaches:
//! the first address from the right that is not a trusted proxy is the client. Anything a
//! client writes to the left of that is its own claim and is ignored.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// A list of networks, IPv4 and IPv6. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a
/// dual-stack listener reports IPv4 peers) match the IPv4 networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkList {
    networks: Vec<IpNet>,
}

impl NetworkList {
    /// Parses `entries` (CIDRs, or bare addresses meaning a single host). The error names
    /// the entry by its position in `field`, e.g. `allowed_sources[2]`.
    pub fn parse(field: &str, entries: &[String]) -> Result<Self, String> {
        let mut networks = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let entry = entry.trim();
            let network = match entry.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(addr) => IpNet::from(addr),
                    Err(_) => {
                        return Err(format!(
                            "{field}[{i}]: {entry:?} is not a CIDR or an IP address; write e.g. 203.0.113.0/24 or 2001:db8::/48"
                        ))
                    }
                },
            };
            if let IpNet::V6(v6) = network {
                if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 {
                    return Err(format!(
                        "{field}[{i}]: {entry:?} is an IPv4-mapped IPv6 network, which never matches (IPv4 peers are compared as IPv4); write it as IPv4, e.g. {}/{}",
                        v6.addr().to_ipv4_mapped().map(|a| a.to_string()).unwrap_or_default(),
                        v6.prefix_len() - 96
                    ));
                }
            }
            if network.addr() != network.network() {
                return Err(format!(
                    "{field}[{i}]: {entry:?} has host bits set; did you mean {}?",
                    network.trunc()
                ));
            }
            networks.push(network);
        }
        Ok(Self { networks })
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.networks.iter().any(|n| n.contains(&addr))
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.networks.iter().map(ToString::to_string).collect()
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a request comes from: the peer, or, when the peer is a trusted proxy, the
/// nearest untrusted address in `X-Forwarded-For`, read from the right. Only the hops the
/// walk reaches are read: whatever a client wrote further left is never parsed, so it can
/// neither choose the answer nor spoil it. A hop the walk reaches that is not an address
/// is a fault of the proxy that wrote it, and that proxy's own address is the answer.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &NetworkList) -> IpAddr {
    let peer = canonical(peer);
    if trusted_proxies.is_empty() || !trusted_proxies.contains(peer) {
        return peer;
    }
    let values: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let hops = values
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(|&b| b == b','));
    let mut client = peer;
    for hop in hops {
        match parse_hop(hop) {
            Some(addr) => {
                client = addr;
                if !trusted_proxies.contains(addr) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` element: an address, optionally with a port as some balancers
/// write it (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, _port) = rest.split_once("]:")?;
        return v6
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| canonical(a.into()));
    }
    let (v4, port) = text.split_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> NetworkList {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        NetworkList::parse("allowed_sources", &entries).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_and_ipv6_networks_match_their_addresses_only() {
        let l = list(&["203.0.113.0/24", "2001:db8:1::/48", "198.51.100.7"]);
        assert!(l.contains(ip("203.0.113.200")));
        assert!(!l.contains(ip("203.0.114.1")));
        assert!(l.contains(ip("2001:db8:1:ffff::1")));
        assert!(!l.contains(ip("2001:db8:2::1")));
        assert!(l.contains(ip("198.51.100.7")));
        assert!(!l.contains(ip("198.51.100.8")));
        assert!(l.contains(ip("::ffff:203.0.113.9")), "IPv4-mapped");
    }

    #[test]
    fn bad_entries_are_named_with_a_fix() {
        let bad = |e: &str| {
            NetworkList::parse("allowed_sources", &[e.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert!(bad("10.0.0.0/33").contains("allowed_sources[0]"));
        assert!(bad("example.com").contains("not a CIDR"));
        assert!(bad("10.1.2.3/8").contains("did you mean 10.0.0.0/8"));
        assert!(bad("::ffff:203.0.113.0/120").contains("write it as IPv4, e.g. 203.0.113.0/24"));
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let proxies = list(&["10.0.0.0/8"]);
        let forged = xff(&["203.0.113.5"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &forged, &proxies),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &forged, &NetworkList::default()),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("10.1.1.1"), &forged, &proxies),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn only_the_hop_nearest_the_trusted_chain_counts() {
        let proxies = list(&["10.0.0.0/8"]);
        // The client claims to be 203.0.113.5; the proxy saw 198.51.100.9.
        let h = xff(&["203.0.113.5, 198.51.100.9", "10.2.2.2"]);
        assert_eq!(
            client_address(ip("10.1.1.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        // Garbage written by the trusted proxy itself: the proxy's own address, never a
        // client claim.
        let h = xff(&["203.0.113.5, not-an-ip"]);
        assert_eq!(client_address(ip("10.1.1.1"), &h, &proxies), ip("10.1.1.1"));
        // Garbage a client wrote to the left of what the proxy appended is never read.
        let h = xff(&["not-an-ip, 198.51.100.9"]);
        assert_eq!(
            client_address(ip("10.1.1.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        let h = HeaderMap::from_iter([(
            http::header::HeaderName::from_static("x-forwarded-for"),
            http::HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.9").unwrap(),
        )]);
        assert_eq!(
            client_address(ip("10.1.1.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        // Ports as some balancers write them.
        let h = xff(&["198.51.100.9:5123"]);
        assert_eq!(
            client_address(ip("10.1.1.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        let h = xff(&["[2001:db8::7]:443"]);
        assert_eq!(
            client_address(ip("10.1.1.1"), &h, &proxies),
            ip("2001:db8::7")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.1.1.1"), &HeaderMap::new(), &proxies),
            ip("10.1.1.1")
        );
    }
}
