//! Which host directories the guest sees and where: plain `HOST::GUEST` data, applied to the
//! WASI context in one place ([`crate::engine`]).

use std::path::PathBuf;

/// Whether the guest may change what is under a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
    pub access: Access,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("mount `{spec}`: expected `HOST[::GUEST][:ro|:rw]` with absolute paths")]
    Syntax { spec: String },
}

impl Mount {
    /// Parses `HOST[::GUEST][:ro|:rw]` (wasmtime's `--dir` syntax plus an access suffix).
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let syntax = || Error::Syntax {
            spec: spec.to_owned(),
        };
        let (paths, access) = match spec.rsplit_once(':') {
            Some((rest, "ro")) if !rest.ends_with(':') => (rest, Access::ReadOnly),
            Some((rest, "rw")) if !rest.ends_with(':') => (rest, Access::ReadWrite),
            _ => (spec, Access::ReadWrite),
        };
        let (host, guest) = paths.split_once("::").unwrap_or((paths, paths));
        if !host.starts_with('/') || !guest.starts_with('/') {
            return Err(syntax());
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            access,
        })
    }
}

/// The default, transparent profile: the host's root is the guest's root, read-write, so
/// every host path means the same thing inside the guest (CPython's own WASI runner does
/// the same). The runtime's embedded stdlib (`/usr/local/lib`) is served by its own
/// virtual filesystem, which takes precedence for the paths it owns.
pub fn transparent() -> Vec<Mount> {
    vec![Mount {
        host: PathBuf::from("/"),
        guest: "/".to_owned(),
        access: Access::ReadWrite,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case<'a> = (&'a str, Option<(&'a str, &'a str, Access)>);

    #[test]
    fn parses_specs() {
        let rw = Access::ReadWrite;
        let ro = Access::ReadOnly;
        let cases: &[Case] = &[
            ("/data", Some(("/data", "/data", rw))),
            ("/data::/mnt", Some(("/data", "/mnt", rw))),
            ("/data::/mnt:ro", Some(("/data", "/mnt", ro))),
            ("/data:ro", Some(("/data", "/data", ro))),
            ("/data:rw", Some(("/data", "/data", rw))),
            ("data", None),
            ("/data::mnt", None),
            ("", None),
        ];
        for (spec, expected) in cases {
            let got = Mount::parse(spec).ok().map(|m| (m.host, m.guest, m.access));
            let expected = expected.map(|(h, g, a)| (PathBuf::from(h), g.to_owned(), a));
            assert_eq!(got, expected, "{spec}");
        }
    }

    #[test]
    fn transparent_maps_root_read_write() {
        let mounts = transparent();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].host, PathBuf::from("/"));
        assert_eq!(mounts[0].guest, "/");
        assert_eq!(mounts[0].access, Access::ReadWrite);
    }
}
