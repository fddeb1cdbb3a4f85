//! The guard against endpoints that point into the server's own network: one check,
//! run when an endpoint is added or changed (so the admin learns at once) and again
//! before every post (a host name's addresses may have changed since). The host name is
//! resolved and every address it has must be public, unless the operator allows
//! private targets (`webhooks.allow_private`).

use std::net::{IpAddr, SocketAddr};

/// Whether an address is one a shop's endpoint may not point at: loopback, private,
/// link-local, unique-local, shared (carrier-grade NAT, 100.64.0.0/10), unspecified,
/// multicast, broadcast, "this network" (0.0.0.0/8) or documentation ranges; an
/// IPv4-mapped or IPv4-compatible IPv6 address is judged by its IPv4 address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // ::a.b.c.d (deprecated IPv4-compatible form), but not :: and ::1 themselves.
            if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
                return is_private(IpAddr::V4(std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                )));
            }
            let first = s[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// An endpoint's address, checked: the parsed URL, its host and the addresses it
/// resolved to (the sender connects to these and no others).
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL.
    pub url: url::Url,
    /// Its host as written (without brackets for IPv6).
    pub host: String,
    /// Every address the host resolved to, each judged by [`is_private`].
    pub addrs: Vec<SocketAddr>,
}

/// Why an endpoint's address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an http(s) URL with a host.
    #[error("{0}")]
    Invalid(String),
    /// The host name does not resolve now (may be passing).
    #[error("{0}")]
    Unresolved(String),
    /// The host is, or resolves to, an address of a private network.
    #[error(
        "{host} resolves to {ip}, a private, loopback, link-local or otherwise internal address; webhooks go to public addresses only (the operator may allow internal ones with webhooks.allow_private)"
    )]
    Private {
        /// The host.
        host: String,
        /// The first refused address.
        ip: IpAddr,
    },
}

impl TargetError {
    /// Whether retrying cannot help (the address itself is refused).
    pub fn permanent(&self) -> bool {
        !matches!(self, TargetError::Unresolved(_))
    }
}

/// Checks an endpoint's address: an `http` or `https` URL with a host whose every
/// address is public (or any address, with `allow_private`). The one guard for adding,
/// changing and posting to an endpoint.
pub async fn check_target(url: &str, allow_private: bool) -> Result<Target, TargetError> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| TargetError::Invalid(format!("not a web address ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Invalid(
            "only http and https addresses take webhooks".into(),
        ));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| TargetError::Invalid("the address has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| TargetError::Unresolved(format!("{host}: cannot resolve ({e})")))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolved(format!("{host}: no address")));
    }
    if !allow_private && let Some(a) = addrs.iter().find(|a| is_private(a.ip())) {
        return Err(TargetError::Private { host, ip: a.ip() });
    }
    Ok(Target {
        url: parsed,
        host,
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.5.4",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "8.8.8.8",
            "100.128.0.1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn every_resolved_address_is_checked() {
        for url in [
            "http://127.0.0.1:8080/h",
            "https://[::1]/h",
            "http://[::ffff:169.254.169.254]/latest",
            "http://100.64.1.1/h",
            "http://localhost:9/h",
            "http://0x7f000001/h",
        ] {
            let e = check_target(url, false).await.expect_err(url);
            assert!(matches!(e, TargetError::Private { .. }), "{url}: {e}");
            assert!(e.permanent());
        }
        let ok = check_target("https://93.184.216.34:8443/h", false)
            .await
            .expect("public");
        assert_eq!(ok.addrs, vec!["93.184.216.34:8443".parse().expect("addr")]);
        assert!(check_target("http://127.0.0.1:8080/h", true).await.is_ok());
        for bad in ["ftp://93.184.216.34/", "not a url", "file:///etc/passwd"] {
            assert!(matches!(
                check_target(bad, false).await,
                Err(TargetError::Invalid(_))
            ));
        }
    }
}
