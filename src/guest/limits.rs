//! What one run may consume: guest memory per interpreter, child interpreters alive at once
//! and started in all, and open bridge channels per interpreter. Read from `pyvenv.cfg`
//! (written by `wasipy venv --memory ...`), with defaults that depend on the profile.

/// `pyvenv.cfg` key: the most linear memory one interpreter may grow to (`2GiB`, `512MiB`).
pub const KEY_MEMORY: &str = "wasipy-memory";
/// `pyvenv.cfg` key: child interpreters alive at once, across the whole run.
pub const KEY_CHILDREN: &str = "wasipy-children";
/// `pyvenv.cfg` key: child interpreters started in all by one run.
pub const KEY_CHILDREN_TOTAL: &str = "wasipy-children-total";
/// `pyvenv.cfg` key: open bridge channels (sockets, the bridge's own) per interpreter.
pub const KEY_CHANNELS: &str = "wasipy-channels";

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// wasm32's own ceiling: 65,536 pages of 64 KiB.
pub const WASM32_MAX: u64 = 4 * GIB;

/// The limits of one run; children inherit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory per interpreter.
    pub memory: u64,
    pub children_alive: u32,
    pub children_total: u32,
    pub channels: u32,
}

impl Limits {
    /// A normal venv: room for real work (pip, test suites, data in memory), bounded so that
    /// a runaway guest and its children cannot take a workstation down (16 x 2 GiB).
    pub const NORMAL: Limits = Limits {
        memory: 2 * GIB,
        children_alive: 16,
        children_total: 10_000,
        channels: 1024,
    };
    /// `--sandbox`: for untrusted code; at most 4 x 512 MiB of guest memory alive.
    pub const SANDBOX: Limits = Limits {
        memory: 512 * MIB,
        children_alive: 4,
        children_total: 256,
        channels: 256,
    };

    /// The defaults for the profile, overridden by the keys `get` finds.
    pub fn from_cfg<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        sandboxed: bool,
    ) -> Result<Self, Error> {
        let mut limits = if sandboxed {
            Self::SANDBOX
        } else {
            Self::NORMAL
        };
        if let Some(text) = get(KEY_MEMORY) {
            limits.memory = parse_size(text).ok_or_else(|| Error::bad(KEY_MEMORY, text))?;
        }
        for (key, field) in [
            (KEY_CHILDREN, &mut limits.children_alive),
            (KEY_CHILDREN_TOTAL, &mut limits.children_total),
            (KEY_CHANNELS, &mut limits.channels),
        ] {
            if let Some(text) = get(key) {
                *field = text.trim().parse().map_err(|_| Error::bad(key, text))?;
            }
        }
        Ok(limits)
    }

    /// The `pyvenv.cfg` pairs that say these limits.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            (KEY_MEMORY, render_size(self.memory)),
            (KEY_CHILDREN, self.children_alive.to_string()),
            (KEY_CHILDREN_TOTAL, self.children_total.to_string()),
            (KEY_CHANNELS, self.channels.to_string()),
        ]
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::NORMAL
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key} = {value}` is not a valid limit; {hint}")]
pub struct Error {
    pub key: &'static str,
    pub value: String,
    hint: &'static str,
}

impl Error {
    fn bad(key: &'static str, value: &str) -> Self {
        let hint = if key == KEY_MEMORY {
            "write a size up to 4GiB such as `512MiB` or `2GiB`"
        } else {
            "write a whole number"
        };
        Self {
            key,
            value: value.to_owned(),
            hint,
        }
    }
}

/// A size in bytes: `123`, `64KiB`, `512MiB`, `2GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`,
/// all binary), at least one 64 KiB page and at most wasm32's 4 GiB.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return None,
    };
    let bytes = number.parse::<u64>().ok()?.checked_mul(scale)?;
    (64 << 10..=WASM32_MAX).contains(&bytes).then_some(bytes)
}

/// The shortest exact spelling of `bytes` in the units [`parse_size`] reads.
pub fn render_size(bytes: u64) -> String {
    match bytes {
        b if b % GIB == 0 => format!("{}GiB", b / GIB),
        b if b % MIB == 0 => format!("{}MiB", b / MIB),
        b if b % 1024 == 0 => format!("{}KiB", b / 1024),
        b => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_render() {
        let cases: &[(&str, Option<u64>)] = &[
            ("2GiB", Some(2 * GIB)),
            ("512MiB", Some(512 * MIB)),
            ("512 MB", Some(512 * MIB)),
            ("64k", Some(64 << 10)),
            ("4G", Some(WASM32_MAX)),
            ("5GiB", None),
            ("1k", None),
            ("1.5GiB", None),
            ("lots", None),
            ("", None),
            ("99999999999999999999G", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_size(text), *expected, "{text:?}");
        }
        for bytes in [2 * GIB, 512 * MIB, 64 << 10, 100_000] {
            assert_eq!(parse_size(&render_size(bytes)), Some(bytes));
        }
    }

    #[test]
    fn limits_come_from_the_profile_and_the_cfg() {
        let cfg = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        };
        assert_eq!(Limits::from_cfg(cfg(&[]), false), Ok(Limits::NORMAL));
        assert_eq!(Limits::from_cfg(cfg(&[]), true), Ok(Limits::SANDBOX));
        let set = Limits::from_cfg(
            cfg(&[("wasipy-memory", "1GiB"), ("wasipy-children", "3")]),
            true,
        );
        assert_eq!(
            set,
            Ok(Limits {
                memory: GIB,
                children_alive: 3,
                ..Limits::SANDBOX
            })
        );
        let bad = Limits::from_cfg(cfg(&[("wasipy-channels", "-1")]), false).unwrap_err();
        assert_eq!(bad.key, KEY_CHANNELS);
        assert!(bad.to_string().contains("whole number"), "{bad}");
        let pairs = Limits::SANDBOX.pairs();
        let again = Limits::from_cfg(
            |k| pairs.iter().find(|(p, _)| *p == k).map(|(_, v)| v.as_str()),
            false,
        );
        assert_eq!(again, Ok(Limits::SANDBOX));
    }
}
