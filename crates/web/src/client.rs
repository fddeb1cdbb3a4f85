//! The client's address: the TCP peer, or, when the peer is one of the configured
//! `[server] trusted_proxies`, the address that proxy put in `X-Forwarded-For`. Of that
//! header's list, the right-most address that is not itself a trusted proxy is taken:
//! everything left of it was written by the client and could be forged.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// The `X-Forwarded-For` header.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Reverse proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    net: IpAddr,
    prefix: u8,
}

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`, how a dual-stack listener sees
/// IPv4 peers) compares as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// Reads `entries` (`10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`). The error names
    /// the entry and what is expected.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.trim();
            let bad = || {
                format!(
                    "{entry:?} is not an IP address or CIDR range; write it like \"10.0.0.5\" or \"10.0.0.0/8\""
                )
            };
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let net = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
            let max = if net.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err(bad());
            }
            ranges.push(Range { net, prefix });
        }
        Ok(TrustedProxies(ranges))
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client's address for a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Several headers count as one list, in order.
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let parsed = hop
                .parse::<IpAddr>()
                .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()));
            match parsed.map(canonical) {
                // Added by a trusted proxy for the hop before it: keep going left.
                Ok(ip) if self.trusts(ip) => client = ip,
                Ok(ip) => return ip,
                // What the nearest untrusted hop wrote is not an address: stop at the
                // last hop a trusted proxy vouched for.
                Err(_) => return client,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn client(p: &TrustedProxies, peer: &str, xff: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        p.client(peer.parse().unwrap(), &headers).to_string()
    }

    #[test]
    fn forwarded_for_is_read_only_through_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "10.0.0.2", &["203.0.113.9"]), "10.0.0.2");
        let p = proxies(&["10.0.0.0/8", "::1"]);
        assert_eq!(
            client(&p, "192.0.2.1", &["203.0.113.9"]),
            "192.0.2.1",
            "peer not trusted"
        );
        assert_eq!(client(&p, "10.0.0.2", &["203.0.113.9"]), "203.0.113.9");
        assert_eq!(
            client(&p, "::ffff:10.0.0.2", &["203.0.113.9"]),
            "203.0.113.9"
        );
        assert_eq!(client(&p, "::1", &["203.0.113.9"]), "203.0.113.9");
        // A forged entry left of the real one is ignored.
        assert_eq!(
            client(&p, "10.0.0.2", &["1.2.3.4, 203.0.113.9"]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["1.2.3.4", "203.0.113.9, 10.0.0.7"]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["garbage, 203.0.113.9"]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["203.0.113.9, garbage"]),
            "10.0.0.2"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["203.0.113.9:51234"]),
            "203.0.113.9",
            "with a port"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["[2001:db8::1]:443"]),
            "2001:db8::1"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &[]),
            "10.0.0.2",
            "no header: the proxy itself"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["10.0.0.9"]),
            "10.0.0.9",
            "all trusted: the left-most"
        );
    }

    #[test]
    fn entries_are_addresses_or_cidr_ranges() {
        let ok = [
            "10.0.0.5",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "::1",
            "fd00::/8",
            " 192.168.1.0/24 ",
        ];
        assert!(TrustedProxies::parse(&ok.map(String::from)).is_ok());
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "proxy.local",
            "10.0.0/8",
            "10.0.0.0/x",
            "",
        ] {
            let e = TrustedProxies::parse(&[bad.to_owned()]).unwrap_err();
            assert!(e.contains("not an IP address or CIDR range"), "{bad}: {e}");
        }
        let p = proxies(&["192.168.1.0/24"]);
        assert!(p.trusts("192.168.1.77".parse().unwrap()));
        assert!(!p.trusts("192.168.2.1".parse().unwrap()));
    }
}
