//! What the gateways consult on every request for automated containment: blocked source
//! addresses and throttled partners, each until a time. Nearly free when nothing is active
//! (one atomic load); otherwise one read lock and a hash lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use portcullis_policy::RateLimit;
use serde::Serialize;

#[derive(Debug, Default)]
struct State {
    blocked: HashMap<IpAddr, i64>,
    throttled: HashMap<String, (RateLimit, i64)>,
}

#[derive(Debug, Default)]
pub struct Guard {
    active: AtomicBool,
    state: RwLock<State>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Containment {
    pub blocked_sources: Vec<(String, i64)>,
    pub throttled_partners: Vec<(String, u32, i64)>,
}

impl Guard {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn refresh_active(&self, s: &State) {
        self.active.store(
            !s.blocked.is_empty() || !s.throttled.is_empty(),
            Ordering::Release,
        );
    }

    pub fn is_blocked(&self, addr: IpAddr, now_ms: i64) -> bool {
        if !self.active.load(Ordering::Acquire) {
            return false;
        }
        self.read()
            .blocked
            .get(&block_key(addr))
            .is_some_and(|&until| now_ms < until)
    }

    /// The partner's rate limit while it is throttled.
    pub fn throttle(&self, partner_id: &str, now_ms: i64) -> Option<RateLimit> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.read()
            .throttled
            .get(partner_id)
            .filter(|(_, until)| now_ms < *until)
            .map(|(limit, _)| *limit)
    }

    /// Blocks the address (an IPv6 address with its whole /64, as the detectors count).
    pub fn block(&self, addr: IpAddr, until_ms: i64) {
        let addr = block_key(addr);
        let mut s = self.write();
        let until = s.blocked.get(&addr).map_or(until_ms, |&u| u.max(until_ms));
        s.blocked.insert(addr, until);
        self.refresh_active(&s);
    }

    /// Returns whether the address was blocked.
    pub fn unblock(&self, addr: IpAddr) -> bool {
        let mut s = self.write();
        let was = s.blocked.remove(&block_key(addr)).is_some();
        self.refresh_active(&s);
        was
    }

    pub fn throttle_partner(&self, partner_id: &str, limit: RateLimit, until_ms: i64) {
        let mut s = self.write();
        s.throttled
            .insert(partner_id.to_string(), (limit, until_ms));
        self.refresh_active(&s);
    }

    pub fn unthrottle(&self, partner_id: &str) -> bool {
        let mut s = self.write();
        let was = s.throttled.remove(partner_id).is_some();
        self.refresh_active(&s);
        was
    }

    /// Forgets what has expired.
    pub fn sweep(&self, now_ms: i64) {
        let mut s = self.write();
        s.blocked.retain(|_, until| now_ms < *until);
        s.throttled.retain(|_, (_, until)| now_ms < *until);
        self.refresh_active(&s);
    }

    pub fn containment(&self, now_ms: i64) -> Containment {
        let s = self.read();
        let mut blocked_sources: Vec<_> = s
            .blocked
            .iter()
            .filter(|(_, u)| now_ms < **u)
            .map(|(a, u)| (a.to_string(), *u))
            .collect();
        blocked_sources.sort();
        let mut throttled_partners: Vec<_> = s
            .throttled
            .iter()
            .filter(|(_, (_, u))| now_ms < *u)
            .map(|(p, (l, u))| (p.clone(), l.per_second, *u))
            .collect();
        throttled_partners.sort();
        Containment {
            blocked_sources,
            throttled_partners,
        }
    }
}

/// What an address is counted and blocked as: an IPv4 address itself, an IPv6 address's
/// /64 network (the block one host usually controls).
pub fn block_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_throttles_hold_until_their_time_or_an_operator_lifts_them() {
        let g = Guard::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!g.is_blocked(a, 0));
        g.block(a, 1000);
        assert!(g.is_blocked(a, 999));
        assert!(!g.is_blocked(a, 1000));
        assert!(!g.is_blocked("192.0.2.8".parse().unwrap(), 0));
        assert!(g.unblock(a));
        assert!(!g.is_blocked(a, 0));
        let limit = RateLimit {
            per_second: 2,
            burst: 2,
        };
        g.throttle_partner("p1", limit, 500);
        assert_eq!(g.throttle("p1", 10), Some(limit));
        assert_eq!(g.throttle("p2", 10), None);
        g.sweep(600);
        assert_eq!(g.throttle("p1", 10), None);
        assert!(!g.active.load(Ordering::Acquire));
    }

    #[test]
    fn an_ipv6_block_covers_the_attackers_whole_slash_64() {
        let g = Guard::default();
        g.block("2001:db8:1:2::7".parse().unwrap(), 1000);
        assert!(g.is_blocked("2001:db8:1:2:ffff::1".parse().unwrap(), 0));
        assert!(!g.is_blocked("2001:db8:1:3::7".parse().unwrap(), 0));
        assert!(g.unblock("2001:db8:1:2::9".parse().unwrap()));
    }
}
