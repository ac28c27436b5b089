//! Who the client is behind a load balancer: a peer in `connections.trusted_proxies` may
//! name it, by a PROXY protocol v2 header before TLS or by `X-Forwarded-For` on each
//! request. Nobody else can: an untrusted peer's bytes are never read as a header and its
//! `X-Forwarded-For` is ignored, so a client cannot choose the address it is logged and
//! limited under.
//!
//! **The chain.** The addresses a connection passed through, oldest first, are the
//! `X-Forwarded-For` entries and then the peer (after a PROXY header, the address it names).
//! Reading from the right, every trusted address is a proxy of ours that appended what it
//! saw; the first untrusted one is the client. Entries further left were written by the
//! client or by proxies we do not know, so they are never believed (the left-most entry is
//! whatever the client chose to send). When every entry is trusted, the left-most is taken;
//! an entry that is not an address stops the walk at the last trusted hop.
//!
//! **PROXY v2** ([the specification](https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt),
//! section 2.2) is binary: a 12-byte signature, version and command, family and transport,
//! the length of the rest, then the addresses and TLVs. Exactly the header's bytes are read
//! (16, then the length it gives), so TLS starts at the next byte. `LOCAL` (the proxy's own
//! health check) and families without an address (`UNSPEC`, `UNIX`) leave the peer's
//! address in place; version 1 (text) is not accepted.

use crate::config::Cidr;
use axum::http::HeaderMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The trusted proxies and whether they send PROXY headers.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub trusted: Vec<Cidr>,
    /// `connections.proxy_protocol = "v2"`.
    pub proxy_protocol_v2: bool,
}

impl Proxies {
    pub(super) fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client of a request that came from `peer`: `peer` itself unless it is trusted,
    /// else the right-most untrusted address of `X-Forwarded-For` (see the module doc).
    pub(super) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Several header lines are one list, in order (RFC 9110 § 5.3).
        let lines: Vec<&[u8]> = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        for line in lines.iter().rev() {
            let Ok(line) = std::str::from_utf8(line) else {
                return client;
            };
            for entry in line.rsplit(',') {
                let Some(ip) = forwarded_address(entry) else {
                    return client;
                };
                client = ip;
                if !self.trusts(ip) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`203.0.113.7:4711`,
/// `[2001:db8::1]:4711`) as some proxies write it.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum HeaderError {
    #[error("not a PROXY protocol v2 header")]
    Signature,
    #[error("PROXY protocol version {0} (only 2 is accepted)")]
    Version(u8),
    #[error("unknown PROXY command {0}")]
    Command(u8),
    #[error("unknown address family or transport {0:#04x}")]
    Family(u8),
    #[error("the header's {0} bytes are too few for its addresses")]
    Short(u16),
    #[error("reading the header: {0}")]
    Io(#[from] std::io::Error),
}

/// What the fixed 16 bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fixed {
    /// `PROXY` (true) or `LOCAL`.
    proxied: bool,
    family: u8,
    len: u16,
}

fn parse_fixed(bytes: &[u8; 16]) -> Result<Fixed, HeaderError> {
    if bytes[..12] != SIGNATURE {
        return Err(HeaderError::Signature);
    }
    let version = bytes[12] >> 4;
    if version != 2 {
        return Err(HeaderError::Version(version));
    }
    let proxied = match bytes[12] & 0x0f {
        0 => false,
        1 => true,
        other => return Err(HeaderError::Command(other)),
    };
    let family = bytes[13];
    let len = u16::from_be_bytes([bytes[14], bytes[15]]);
    Ok(Fixed {
        proxied,
        family,
        len,
    })
}

/// The client's address from the bytes after the fixed part (TLVs after the addresses are
/// skipped). `None`: keep the peer's address.
fn parse_source(fixed: Fixed, rest: &[u8]) -> Result<Option<SocketAddr>, HeaderError> {
    if !fixed.proxied {
        // LOCAL: the proxy speaking for itself; the block is discarded, whatever it holds.
        return Ok(None);
    }
    let needed = match fixed.family {
        // UNSPEC: no address to speak of.
        0x00 => return Ok(None),
        // TCP over IPv4 and IPv6.
        0x11 => 12,
        0x21 => 36,
        // UNIX stream: a path, nothing to attribute.
        0x31 => 216,
        other => return Err(HeaderError::Family(other)),
    };
    if rest.len() < needed {
        return Err(HeaderError::Short(fixed.len));
    }
    Ok(match fixed.family {
        0x11 => {
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            let port = u16::from_be_bytes([rest[8], rest[9]]);
            Some(SocketAddr::new(IpAddr::V4(ip), port))
        }
        0x21 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&rest[..16]);
            let port = u16::from_be_bytes([rest[32], rest[33]]);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => None,
    })
}

/// Read one PROXY v2 header from `stream`, exactly its bytes: the client's address it
/// names, or `None` when it names none (`LOCAL`, `UNSPEC`, `UNIX`). The caller bounds the
/// time this takes.
pub(super) async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, HeaderError> {
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).await?;
    let fixed = parse_fixed(&head)?;
    let mut rest = vec![0u8; usize::from(fixed.len)];
    stream.read_exact(&mut rest).await?;
    parse_source(fixed, &rest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PROXY v2 header for TCP from `source` to `destination`, with `tlv` after the
    /// addresses.
    pub(crate) fn header(source: SocketAddr, destination: SocketAddr, tlv: &[u8]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.push(0x21);
        let mut addresses = Vec::new();
        match (source, destination) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                out.push(0x11);
                addresses.extend(s.ip().octets());
                addresses.extend(d.ip().octets());
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                out.push(0x21);
                addresses.extend(s.ip().octets());
                addresses.extend(d.ip().octets());
            }
            _ => panic!("one family"),
        }
        addresses.extend(source.port().to_be_bytes());
        addresses.extend(destination.port().to_be_bytes());
        addresses.extend(tlv);
        out.extend((addresses.len() as u16).to_be_bytes());
        out.extend(addresses);
        out
    }

    async fn read(bytes: &[u8]) -> (Result<Option<SocketAddr>, HeaderError>, Vec<u8>) {
        let mut reader = bytes;
        let read = read_header(&mut reader).await;
        (read, reader.to_vec())
    }

    #[tokio::test]
    async fn a_header_gives_the_source_and_leaves_the_next_byte_unread() {
        let source: SocketAddr = "203.0.113.7:4711".parse().unwrap();
        let destination: SocketAddr = "10.0.0.2:8443".parse().unwrap();
        let mut bytes = header(source, destination, &[]);
        bytes.extend(b"\x16\x03\x01");
        let (got, left) = read(&bytes).await;
        assert_eq!(got.unwrap(), Some(source));
        assert_eq!(left, b"\x16\x03\x01", "TLS starts right after the header");

        let source: SocketAddr = "[2001:db8::7]:4711".parse().unwrap();
        let destination: SocketAddr = "[2001:db8::1]:8443".parse().unwrap();
        // A TLV (AWS's VPC endpoint id, type 0xEA) is skipped with the header.
        let mut bytes = header(source, destination, &[0xea, 0, 3, 1, 2, 3]);
        bytes.push(0x16);
        let (got, left) = read(&bytes).await;
        assert_eq!(got.unwrap(), Some(source));
        assert_eq!(left, [0x16]);
    }

    #[tokio::test]
    async fn local_and_unspecified_keep_the_peer_address() {
        let source: SocketAddr = "203.0.113.7:4711".parse().unwrap();
        let mut local = header(source, "10.0.0.2:8443".parse().unwrap(), &[]);
        local[12] = 0x20;
        assert_eq!(read(&local).await.0.unwrap(), None);
        let mut unspec = SIGNATURE.to_vec();
        unspec.extend([0x21, 0x00, 0, 0]);
        assert_eq!(read(&unspec).await.0.unwrap(), None);
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        let source: SocketAddr = "203.0.113.7:4711".parse().unwrap();
        let good = header(source, "10.0.0.2:8443".parse().unwrap(), &[]);
        // A TLS ClientHello where the header should be.
        let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
        hello.resize(64, 0);
        assert!(matches!(read(&hello).await.0, Err(HeaderError::Signature)));
        // Version 1's text header.
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.2 4711 8443\r\n";
        assert!(matches!(read(v1).await.0, Err(HeaderError::Signature)));
        let mut version = good.clone();
        version[12] = 0x11;
        assert!(matches!(
            read(&version).await.0,
            Err(HeaderError::Version(1))
        ));
        let mut command = good.clone();
        command[12] = 0x22;
        assert!(matches!(
            read(&command).await.0,
            Err(HeaderError::Command(2))
        ));
        let mut udp = good.clone();
        udp[13] = 0x12;
        assert!(matches!(read(&udp).await.0, Err(HeaderError::Family(0x12))));
        let mut short = good.clone();
        short[15] = 8;
        assert!(matches!(
            read(&short[..24]).await.0,
            Err(HeaderError::Short(8))
        ));
        // A header cut short: the stream ends before its length.
        assert!(matches!(read(&good[..20]).await.0, Err(HeaderError::Io(_))));
        assert!(matches!(read(&good[..10]).await.0, Err(HeaderError::Io(_))));
    }

    fn proxies(trusted: &[&str]) -> Proxies {
        Proxies {
            trusted: trusted.iter().map(|c| c.parse().unwrap()).collect(),
            proxy_protocol_v2: false,
        }
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address_and_only_a_trusted_peer_says_so() {
        let proxies = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        let lb = ip("10.0.0.5");
        let chain = forwarded(&["198.51.100.1, 203.0.113.20, 10.1.2.3"]);
        assert_eq!(proxies.client(lb, &chain), ip("203.0.113.20"));
        // Split over several lines, with ports and brackets.
        let lines = forwarded(&["198.51.100.1", "[2001:db8::9]:4711 , 10.1.2.3:80"]);
        assert_eq!(proxies.client(lb, &lines), ip("2001:db8::9"));
        let with_port = forwarded(&["203.0.113.21:4711"]);
        assert_eq!(proxies.client(lb, &with_port), ip("203.0.113.21"));
        // An untrusted peer's header is ignored.
        let client = ip("203.0.113.50");
        assert_eq!(proxies.client(client, &chain), client);
        // No header: the proxy itself.
        assert_eq!(proxies.client(lb, &HeaderMap::new()), lb);
        // Every hop trusted: the left-most.
        let inside = forwarded(&["10.9.9.9, 127.0.0.1"]);
        assert_eq!(proxies.client(lb, &inside), ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        let garbage = forwarded(&["203.0.113.1, unknown, 10.1.2.3"]);
        assert_eq!(proxies.client(lb, &garbage), ip("10.1.2.3"));
        let garbage = forwarded(&["203.0.113.1, nonsense"]);
        assert_eq!(proxies.client(lb, &garbage), lb);
        // Nobody trusted: nothing is read.
        assert_eq!(self::proxies(&[]).client(lb, &chain), lb);
    }
}
