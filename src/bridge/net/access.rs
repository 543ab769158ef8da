//! The venv's network setting at the socket level: which addresses guest code may connect
//! and send to, which names it may look up, where it may bind.

use crate::bridge::errno;
use crate::bridge::reply::Failure;
use crate::guest::network::Policy;
use std::collections::HashSet;
use std::net::IpAddr;

/// What guest code may reach: the venv's `wasipy-network`, and whether it may bind only to
/// loopback (a sandbox).
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub bind_loopback_only: bool,
}

/// The rules and what lookups have allowed so far.
pub struct Access {
    pub(super) rules: Rules,
    /// Addresses an allowed host name resolved to: connecting to them is allowed too.
    pub(super) resolved: HashSet<IpAddr>,
}

impl Access {
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            resolved: HashSet::new(),
        }
    }

    /// Whether guest code may connect to (or send to) `ip`.
    pub fn check_connect(&self, ip: IpAddr) -> Result<(), Failure> {
        let allowed = match &self.rules.policy {
            Policy::On => true,
            Policy::Off => false,
            Policy::Hosts(_) => {
                self.resolved.contains(&ip) || self.rules.policy.allows(&ip.to_string())
            }
        };
        if allowed {
            return Ok(());
        }
        Err(denied(&ip.to_string()))
    }

    /// Whether guest code may look up `host` (names that never leave the machine always).
    pub fn check_lookup(&self, host: &str) -> Result<(), Failure> {
        let local = host.parse::<IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost");
        if local || self.rules.policy.allows(host) {
            return Ok(());
        }
        Err(denied(host))
    }

    /// Whether guest code may bind to `ip`.
    pub fn check_bind(&self, ip: IpAddr) -> Result<(), Failure> {
        if !self.rules.bind_loopback_only || ip.is_loopback() {
            return Ok(());
        }
        Err(errno::os(
            "EACCES",
            format!(
                "binding to `{ip}` is not allowed in a sandboxed venv, only loopback addresses \
                 (`wasipy-sandbox` in its pyvenv.cfg)"
            ),
        ))
    }
}

/// The refusal of a host the venv's network setting does not allow.
fn denied(host: &str) -> Failure {
    errno::os(
        "EACCES",
        format!(
            "network access to `{host}` is not allowed in this venv \
             (`wasipy-network` in its pyvenv.cfg)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_at_connect_lookup_and_bind() {
        let hosts = Policy::Hosts(vec!["index.example".into()]);
        let mut net = Access::new(Rules {
            policy: hosts,
            bind_loopback_only: true,
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(net.check_connect(ip).is_err());
        net.resolved.insert(ip);
        assert!(net.check_connect(ip).is_ok());
        assert!(net.check_lookup("index.example").is_ok());
        assert!(net.check_lookup("localhost").is_ok());
        assert!(net.check_lookup("127.0.0.1").is_ok());
        let refused = net.check_lookup("evil.example").unwrap_err();
        assert!(
            refused.message.contains("wasipy-network"),
            "{}",
            refused.message
        );
        assert!(net.check_bind("127.0.0.1".parse().unwrap()).is_ok());
        assert!(net.check_bind("::1".parse().unwrap()).is_ok());
        assert!(net.check_bind("0.0.0.0".parse().unwrap()).is_err());

        let off = Access::new(Rules {
            policy: Policy::Off,
            bind_loopback_only: false,
        });
        assert!(off.check_connect("127.0.0.1".parse().unwrap()).is_err());
        assert!(off.check_bind("0.0.0.0".parse().unwrap()).is_ok());
    }
}
