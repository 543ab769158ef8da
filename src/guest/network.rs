//! Which hosts guest code may reach: `wasipy-network` in `pyvenv.cfg` (`on`, `off`, or
//! host names), checked by the bridge before it connects anywhere.

/// Which hosts guest code may reach: `wasipy-network` in `pyvenv.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    On,
    Off,
    /// Host names; `*.example.org` also matches its subdomains.
    Hosts(Vec<String>),
}

impl Policy {
    /// `on`, `off`, or a comma- or space-separated list of host names.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "on" | "true" | "yes" | "1" => Policy::On,
            "off" | "false" | "no" | "0" | "none" => Policy::Off,
            list => Policy::Hosts(
                list.split([',', ' ', '\t'])
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        }
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Policy::On => true,
            Policy::Off => false,
            Policy::Hosts(hosts) => hosts
                .iter()
                .any(|pattern| match pattern.strip_prefix("*.") {
                    Some(suffix) => host == suffix || host.ends_with(&format!(".{suffix}")),
                    None => host == *pattern,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let cases: &[(&str, &str, bool)] = &[
            ("on", "example.org", true),
            ("", "example.org", true),
            ("off", "example.org", false),
            ("pypi.example, files.example", "files.example", true),
            ("pypi.example, files.example", "evil.example", false),
            ("*.example.org", "a.b.example.org", true),
            ("*.example.org", "example.org", true),
            ("*.example.org", "badexample.org", false),
            ("Index.Example", "index.example.", true),
        ];
        for (value, host, allowed) in cases {
            assert_eq!(
                Policy::parse(value).allows(host),
                *allowed,
                "{value} / {host}"
            );
        }
    }
}
