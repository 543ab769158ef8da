//! Activation scripts: templates from `shims/activate/`, with the venv's path and prompt
//! quoted for each shell's syntax.

use std::path::Path;

/// A shell's script: file name, template, and how to quote a literal string for it.
struct Script {
    name: &'static str,
    template: &'static str,
    quote: fn(&str) -> String,
}

const SCRIPTS: &[Script] = &[
    Script {
        name: "activate",
        template: include_str!("../../shims/activate/activate"),
        quote: posix_quote,
    },
    Script {
        name: "activate.fish",
        template: include_str!("../../shims/activate/activate.fish"),
        quote: fish_quote,
    },
    Script {
        name: "activate.csh",
        template: include_str!("../../shims/activate/activate.csh"),
        quote: csh_quote,
    },
    Script {
        name: "activate.nu",
        template: include_str!("../../shims/activate/activate.nu"),
        quote: nu_quote,
    },
    Script {
        name: "Activate.ps1",
        template: include_str!("../../shims/activate/Activate.ps1"),
        quote: powershell_quote,
    },
];

/// The activation scripts for a venv at `venv_dir` with `prompt`: (file name, contents).
pub fn render_all(venv_dir: &Path, prompt: &str) -> Vec<(&'static str, String)> {
    let dir = venv_dir.to_string_lossy();
    SCRIPTS
        .iter()
        .map(|s| {
            let text = s
                .template
                .replace("{{ VIRTUAL_ENV_DIR }}", &(s.quote)(&dir))
                .replace("{{ VIRTUAL_PROMPT }}", &(s.quote)(prompt));
            (s.name, text)
        })
        .collect()
}

/// sh/bash/zsh: single quotes; a `'` closes, is escaped, and reopens.
pub fn posix_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// fish: single quotes, where only `\` and `'` are escaped.
pub fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

/// csh/tcsh: like POSIX, and `!` (history) escaped even inside quotes.
pub fn csh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''").replace('!', r"\!"))
}

/// nushell: a raw string `r#'...'#` with enough `#` that the text cannot close it.
pub fn nu_quote(s: &str) -> String {
    let mut hashes = String::from("#");
    while s.contains(&format!("'{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}'{s}'{hashes}")
}

/// PowerShell: single quotes, `'` doubled.
pub fn powershell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Quote = fn(&str) -> String;

    #[test]
    fn quotes_each_shells_way() {
        let cases: &[(Quote, &str, &str)] = &[
            (posix_quote, "/a b/é", "'/a b/é'"),
            (posix_quote, "it's $HOME", r"'it'\''s $HOME'"),
            (fish_quote, r"a\b'c", r"'a\\b\'c'"),
            (csh_quote, "x'y!", r"'x'\''y\!'"),
            (nu_quote, "/a b", "r#'/a b'#"),
            (nu_quote, "a'#b", "r##'a'#b'##"),
            (powershell_quote, "it's", "'it''s'"),
        ];
        for (quote, input, expected) in cases {
            assert_eq!(quote(input), *expected, "{input}");
        }
    }

    #[test]
    fn renders_every_script_without_placeholders() {
        let scripts = render_all(Path::new("/tmp/my venv"), "my env");
        assert_eq!(scripts.len(), 5);
        for (name, text) in scripts {
            assert!(!text.contains("{{"), "{name} has an unfilled placeholder");
            assert!(text.contains("my venv"), "{name}");
        }
    }
}
