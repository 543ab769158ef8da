//! `pyvenv.cfg` (PEP 405): ordered `key = value` lines, read by splitting at the first `=`.

use std::path::{Path, PathBuf};

/// The file name PEP 405 gives the venv marker.
pub const FILE_NAME: &str = "pyvenv.cfg";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not UTF-8 text; recreate the venv with `wasipy venv --clear`")]
    NotText { path: PathBuf },
    #[error("`{path}` line {line}: expected `key = value`; fix the line or recreate the venv with `wasipy venv --clear`")]
    Malformed { path: PathBuf, line: usize },
    #[error("`{path}` sets `{key}` twice (lines {first} and {second}); keep one")]
    Duplicate {
        path: PathBuf,
        key: String,
        first: usize,
        second: usize,
    },
}

/// Parsed `pyvenv.cfg`, keeping the order of its keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PyvenvCfg {
    entries: Vec<(String, String)>,
}

impl PyvenvCfg {
    /// Builds a config from ordered pairs (as written by `wasipy venv`).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { entries }
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::NotText {
            path: path.to_owned(),
        })?;
        if text.contains('\0') {
            return Err(Error::NotText {
                path: path.to_owned(),
            });
        }
        Self::parse(&text, path)
    }

    /// Parses `text`; `path` only names the file in errors.
    ///
    /// Blank lines and `#` comments are skipped. A line without `=` is an error: CPython
    /// ignores such lines, but in a file wasipy wrote it means the file was damaged.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut lines_of: Vec<usize> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(Error::Malformed {
                    path: path.to_owned(),
                    line: index + 1,
                });
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(Error::Malformed {
                    path: path.to_owned(),
                    line: index + 1,
                });
            }
            if let Some(pos) = entries.iter().position(|(k, _)| *k == key) {
                return Err(Error::Duplicate {
                    path: path.to_owned(),
                    key,
                    first: lines_of[pos],
                    second: index + 1,
                });
            }
            entries.push((key, value.trim().to_owned()));
            lines_of.push(index + 1);
        }
        Ok(Self { entries })
    }

    /// The value of `key` (keys are case-insensitive, as in CPython's `site`).
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(key, value)`, in the file's order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets `key`, keeping its position if present, appending otherwise.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.entries.push((key.to_owned(), value.to_owned())),
        }
    }

    /// The file's text, one `key = value` line per entry.
    pub fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PyvenvCfg, Error> {
        PyvenvCfg::parse(text, Path::new("/v/pyvenv.cfg"))
    }

    #[test]
    fn parses_like_site() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("home = /usr/bin\n", "home", Some("/usr/bin")),
            ("home=/usr/bin", "home", Some("/usr/bin")),
            ("  Home  =  /a b/c  \n", "home", Some("/a b/c")),
            ("prompt = a=b\n", "prompt", Some("a=b")),
            (
                "# comment\n\nversion = 3.12.0\r\n",
                "version",
                Some("3.12.0"),
            ),
            ("version = 3.12.0\n", "home", None),
            ("prompt =\n", "prompt", Some("")),
        ];
        for (text, key, expected) in cases {
            let cfg = parse(text).unwrap();
            assert_eq!(cfg.get(key), *expected, "{text:?}");
        }
    }

    #[test]
    fn rejects_damaged_files() {
        assert!(matches!(
            parse("home /usr/bin\n"),
            Err(Error::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse("a = 1\n= 2\n"),
            Err(Error::Malformed { line: 2, .. })
        ));
        let dup = parse("home = a\nversion = 1\nHOME = b\n").unwrap_err();
        assert!(matches!(
            dup,
            Error::Duplicate {
                first: 1,
                second: 3,
                ..
            }
        ));
        assert!(dup.to_string().contains("`/v/pyvenv.cfg`"));
    }

    #[test]
    fn render_round_trips_in_order() {
        let mut cfg = PyvenvCfg::from_pairs([("home", "/h"), ("version", "3.12.0")]);
        cfg.set("prompt", "x");
        cfg.set("home", "/g");
        let text = cfg.render();
        assert_eq!(text, "home = /g\nversion = 3.12.0\nprompt = x\n");
        assert_eq!(parse(&text).unwrap(), cfg);
    }

    #[test]
    fn binary_file_is_not_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, b"home = \xff\xfe\n").unwrap();
        assert!(matches!(PyvenvCfg::read(&path), Err(Error::NotText { .. })));
        std::fs::write(&path, b"home = a\0b\n").unwrap();
        assert!(matches!(PyvenvCfg::read(&path), Err(Error::NotText { .. })));
    }
}

#[cfg(test)]
mod random_input {
    use super::*;

    /// Random text (ASCII, separators, newlines, multi-byte characters) parses to a value
    /// or an error naming the file, never a panic.
    #[test]
    fn never_panics() {
        let alphabet: Vec<char> = "ab =\n\r\t#;[]é\u{0}x=y-_.".chars().collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Err(err) = PyvenvCfg::parse(&text, Path::new("/v/pyvenv.cfg")) {
                assert!(err.to_string().contains("`/v/pyvenv.cfg`"), "{err}");
            }
        }
    }
}
