//! What the server is told about the network in front of it: which peers are trusted
//! proxies (`connections.trusted_proxies`, parsed into [`Cidr`]s as the file is read),
//! whether they announce clients with the PROXY protocol (`connections.proxy_protocol`),
//! and where the private metrics listener is (`metrics_listen`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A block of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address (`127.0.0.1`, a
/// `/32` or `/128`). The bits after the prefix must be zero, so that a typo such as
/// `10.0.0.1/8` is refused instead of silently trusting all of 10/8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the block. An IPv4-mapped IPv6 address (a dual-stack socket's
    /// view of an IPv4 peer) is the IPv4 address it maps.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address or a CIDR block like 10.0.0.0/8"))?;
        if let IpAddr::V6(v6) = network
            && v6.to_ipv4_mapped().is_some()
        {
            return Err(format!(
                "`{text}` is an IPv4-mapped IPv6 block: write it as IPv4"
            ));
        }
        let bits: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= bits => n,
                    _ => return Err(format!("`{text}`: the prefix must be 0 to {bits}")),
                }
            }
            Some(_) => return Err(format!("`{text}`: the prefix must be 0 to {bits}")),
        };
        if masked(network, prefix) != network {
            return Err(format!(
                "`{text}` has bits set after its /{prefix} prefix: the block is {}/{prefix}",
                masked(network, prefix)
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether trusted proxies announce each client with a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyProtocol {
    /// No header is read: a trusted proxy's clients are known only from
    /// `X-Forwarded-For`, request by request.
    #[default]
    Off,
    /// Every connection from a trusted proxy must begin with a PROXY protocol version 2
    /// header, read before TLS; one that does not is closed. Connections from other peers
    /// never have their bytes read as a header.
    V2,
}

impl super::Config {
    /// The private metrics listener's address, when one is configured (and valid).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listen.as_deref()?.parse().ok()
    }

    /// The problems of the settings above (called by `validate`).
    pub(super) fn network_problems(&self, problems: &mut Vec<String>) {
        let proxies = &self.connections.trusted_proxies;
        if let Some(everyone) = proxies.iter().find(|c| c.prefix() == 0) {
            problems.push(format!(
                "connections.trusted_proxies: `{everyone}` trusts every address, so any client \
                 could choose the address it is logged and limited under; list the proxies' \
                 own networks"
            ));
        }
        if self.connections.proxy_protocol == ProxyProtocol::V2 && proxies.is_empty() {
            problems.push(
                "connections.proxy_protocol: `v2` needs connections.trusted_proxies (the \
                 header is read only from them)"
                    .into(),
            );
        }
        if let Some(text) = &self.metrics_listen {
            match text.parse::<SocketAddr>() {
                Err(_) => problems.push(format!(
                    "metrics_listen: `{text}` is not an address like 127.0.0.1:9464"
                )),
                Ok(addr) if self.listen.parse::<SocketAddr>().ok() == Some(addr) => problems
                    .push("metrics_listen: must differ from listen (the public listener)".into()),
                Ok(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_and_no_others() {
        let ten: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(ten.contains(ip("10.255.1.2")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped is IPv4");
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(
            !ten.contains(ip("::a00:1")),
            "an IPv6 address is not in an IPv4 block"
        );
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let host: Cidr = "2001:db8::7/128".parse().unwrap();
        assert!(host.contains(ip("2001:db8::7")) && !host.contains(ip("2001:db8::8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
    }

    #[test]
    fn bad_blocks_are_refused_with_what_is_wrong() {
        for (text, says) in [
            ("10.0.0.1/8", "the block is 10.0.0.0/8"),
            ("10.0.0.0/33", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("10.0.0.0/", "0 to 32"),
            ("10.0.0.0/+8", "0 to 32"),
            ("10.0.0.0/08x", "0 to 32"),
            ("10.0.0/8", "not an address"),
            ("example.com", "not an address"),
            ("", "not an address"),
            ("::ffff:10.0.0.0/104", "write it as IPv4"),
        ] {
            let err = text.parse::<Cidr>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_file_names_the_key_of_a_bad_block_and_checks_the_rest_together() {
        let err =
            Config::from_toml("[connections]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.1/16\"]\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("connections.trusted_proxies"), "{err}");
        assert!(err.contains("`10.1/16`"), "{err}");

        let err = Config::from_toml(
            "metrics_listen = \"nowhere\"\n[connections]\nproxy_protocol = \"v2\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("metrics_listen:"), "{err}");
        assert!(err.contains("connections.proxy_protocol:"), "{err}");

        let err = Config::from_toml("[connections]\ntrusted_proxies = [\"::/0\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("trusts every address"), "{err}");
        let err = Config::from_toml("[connections]\nproxy_protocol = \"v1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("connections.proxy_protocol"), "{err}");
        let err =
            Config::from_toml("listen = \"127.0.0.1:8443\"\nmetrics_listen = \"127.0.0.1:8443\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("must differ from listen"), "{err}");

        let config = Config::from_toml(
            "metrics_listen = \"127.0.0.1:9464\"\n[connections]\n\
             trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\", \"fd00::/8\"]\n\
             proxy_protocol = \"v2\"\n",
        )
        .unwrap();
        assert_eq!(config.connections.trusted_proxies.len(), 3);
        assert_eq!(config.connections.proxy_protocol, ProxyProtocol::V2);
        assert_eq!(
            config.metrics_addr(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        // What the file says is what the defaults layer would write back.
        let round = serde_json::to_value(&config.connections.trusted_proxies).unwrap();
        assert_eq!(
            round,
            serde_json::json!(["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"])
        );
    }
}
