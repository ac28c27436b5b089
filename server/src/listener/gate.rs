//! Who may open a connection, decided at accept before any TLS work: at most
//! `max_per_address` open connections and `new_per_address_per_sec` new ones per client
//! address, at most `max_unauthenticated` connections that are not yet a session, and never
//! more than the process's file limit leaves room for.
//!
//! A trusted proxy's connection carries many clients, so the proxy's own address is never
//! counted per address (it would throttle every client behind it): it is admitted against
//! the global limits only ([`Gate::admit_unattributed`]), and the per-address limits apply
//! to the client its PROXY header names, once read ([`Admission::attribute`]).
//!
//! An IPv6 client is counted by its /64, the block one subscriber gets: counting single
//! addresses would give every attacker 2^64 of them. An IPv4-mapped IPv6 address counts
//! as the IPv4 address it is.

use super::report::Refused;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The gate's limits, already checked and fitted to the file limit.
#[derive(Debug, Clone)]
pub struct GateLimits {
    pub max_per_address: usize,
    pub new_per_address_per_sec: u32,
    pub max_unauthenticated: usize,
    /// Open connections of every kind the file limit leaves room for.
    pub max_total: usize,
}

/// The address a client is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct AddressKey(IpAddr);

impl AddressKey {
    pub(super) fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(_) => AddressKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    AddressKey(IpAddr::V6(octets.into()))
                }
            },
        }
    }
}

pub(super) struct Gate {
    limits: GateLimits,
    per_address: Mutex<HashMap<AddressKey, usize>>,
    unauthenticated: AtomicUsize,
    total: AtomicUsize,
    new_connections: DefaultKeyedRateLimiter<AddressKey>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("limits", &self.limits)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Gate {
    pub(super) fn new(limits: GateLimits) -> Arc<Gate> {
        let rate = NonZeroU32::new(limits.new_per_address_per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        // A burst of two seconds' worth: a page opening its connections at once, clients
        // behind one NAT reconnecting after a network change, a health checker polling
        // a starting server, never meet it.
        let quota = Quota::per_second(rate).allow_burst(burst);
        Arc::new(Gate {
            limits,
            per_address: Mutex::new(HashMap::new()),
            unauthenticated: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            new_connections: RateLimiter::keyed(quota),
        })
    }

    /// Let a connection from `ip` in, or say which limit keeps it out.
    pub(super) fn admit(self: &Arc<Gate>, ip: IpAddr) -> Result<Admission, Refused> {
        self.check_global()?;
        let key = AddressKey::of(ip);
        self.take_address(key)?;
        Ok(self.admitted(Some(key)))
    }

    /// Let a trusted proxy's connection in under the global limits only: its own address
    /// is not counted (see the module doc).
    pub(super) fn admit_unattributed(self: &Arc<Gate>) -> Result<Admission, Refused> {
        self.check_global()?;
        Ok(self.admitted(None))
    }

    fn check_global(&self) -> Result<(), Refused> {
        if self.total.load(Ordering::Relaxed) >= self.limits.max_total {
            return Err(Refused::FileBudget);
        }
        if self.unauthenticated.load(Ordering::Relaxed) >= self.limits.max_unauthenticated {
            return Err(Refused::UnauthenticatedCap);
        }
        Ok(())
    }

    /// One more open connection for `key`, within its cap and rate.
    fn take_address(&self, key: AddressKey) -> Result<(), Refused> {
        {
            let mut per_address = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let open = per_address.entry(key).or_insert(0);
            if *open >= self.limits.max_per_address {
                return Err(Refused::AddressCap);
            }
            if self.new_connections.check_key(&key).is_err() {
                if *open == 0 {
                    per_address.remove(&key);
                }
                return Err(Refused::AddressRate);
            }
            *open += 1;
        }
        if self.new_connections.len() > 100_000 {
            self.new_connections.retain_recent();
        }
        Ok(())
    }

    fn admitted(self: &Arc<Gate>, key: Option<AddressKey>) -> Admission {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.unauthenticated.fetch_add(1, Ordering::Relaxed);
        Admission {
            gate: self.clone(),
            key,
            authenticated: AtomicBool::new(false),
        }
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// An admitted connection's place; given back when dropped.
#[derive(Debug)]
pub(super) struct Admission {
    gate: Arc<Gate>,
    /// The address it is counted under; `None` for a trusted proxy's connection until
    /// (unless) it names its client.
    key: Option<AddressKey>,
    authenticated: AtomicBool,
}

impl Admission {
    /// Count an unattributed connection under `ip`, the client a trusted proxy named, or
    /// say which per-address limit keeps it out (the connection is then to be closed; the
    /// global places are given back when the admission drops).
    pub(super) fn attribute(&mut self, ip: IpAddr) -> Result<(), Refused> {
        if self.key.is_some() {
            return Ok(());
        }
        let key = AddressKey::of(ip);
        self.gate.take_address(key)?;
        self.key = Some(key);
        Ok(())
    }

    /// The connection became an authenticated session: it no longer counts against
    /// `max_unauthenticated` (sessions have `limits.max_connections`).
    pub(super) fn authenticated(&self) {
        if !self.authenticated.swap(true, Ordering::Relaxed) {
            self.gate.unauthenticated.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.authenticated.load(Ordering::Relaxed) {
            self.gate.unauthenticated.fetch_sub(1, Ordering::Relaxed);
        }
        self.gate.total.fetch_sub(1, Ordering::Relaxed);
        let mut per_address = self
            .gate
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(key) = self.key
            && let Some(open) = per_address.get_mut(&key)
        {
            *open -= 1;
            if *open == 0 {
                per_address.remove(&key);
            }
        }
    }
}

/// File descriptors kept for everything that is not a client connection: the database
/// pool, object files being written, the WebSocket of a bus, the log.
const FILE_RESERVE: u64 = 256;

/// How many connections the process's file limit leaves room for. The soft limit is raised
/// to the hard one first (the soft default of 1024 is for interactive shells).
pub fn file_budget() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let raisable = match (limit.current, limit.maximum) {
        (Some(current), Some(maximum)) => current < maximum,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if raisable {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    match limit.current {
        Some(files) => files.saturating_sub(FILE_RESERVE).max(1) as usize,
        None => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_per_address: usize, max_unauthenticated: usize, max_total: usize) -> Arc<Gate> {
        Gate::new(GateLimits {
            max_per_address,
            new_per_address_per_sec: 1000,
            max_unauthenticated,
            max_total,
        })
    }

    #[test]
    fn an_address_holds_at_most_its_cap_and_gets_it_back_on_close() {
        let gate = gate(2, 100, 100);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::AddressCap);
        assert!(gate.admit(b).is_ok(), "another address still gets in");
        drop(first);
        assert!(gate.admit(a).is_ok());
    }

    #[test]
    fn ipv6_counts_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
        let gate = gate(1, 100, 100);
        let _one = gate.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            gate.admit("2001:db8::ffff:1".parse().unwrap()).unwrap_err(),
            Refused::AddressCap
        );
        assert!(gate.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let _v4 = gate.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(
            gate.admit("::ffff:192.0.2.1".parse().unwrap()).unwrap_err(),
            Refused::AddressCap
        );
    }

    #[test]
    fn sessions_leave_the_unauthenticated_count_and_the_total_holds_everything() {
        let gate = gate(100, 1, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::UnauthenticatedCap);
        first.authenticated();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::FileBudget);
        drop(first);
        assert_eq!(gate.open(), 1);
    }

    #[test]
    fn a_proxy_is_counted_by_the_clients_it_names_not_by_its_own_address() {
        let gate = gate(2, 100, 100);
        let proxy_side: Vec<_> = (0..5).map(|_| gate.admit_unattributed().unwrap()).collect();
        assert_eq!(gate.open(), 5, "the global count holds them all");
        let mut named = proxy_side.into_iter();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let mut first = named.next().unwrap();
        first.attribute(client).unwrap();
        let mut second = named.next().unwrap();
        second.attribute(client).unwrap();
        let mut third = named.next().unwrap();
        assert_eq!(third.attribute(client).unwrap_err(), Refused::AddressCap);
        named
            .next()
            .unwrap()
            .attribute("203.0.113.8".parse().unwrap())
            .expect("another client behind the same proxy");
        drop(third);
        drop(first);
        let mut again = gate.admit_unattributed().unwrap();
        again
            .attribute(client)
            .expect("the client's place came back");
        assert_eq!(gate.admit(client).unwrap_err(), Refused::AddressCap);
    }

    #[test]
    fn new_connections_per_address_are_rate_limited() {
        let gate = Gate::new(GateLimits {
            max_per_address: 100,
            new_per_address_per_sec: 3,
            max_unauthenticated: 100,
            max_total: 100,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..6).map(|_| gate.admit(a).unwrap()).collect();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::AddressRate);
        assert!(gate.admit("10.0.0.2".parse().unwrap()).is_ok());
        drop(held);
    }
}
