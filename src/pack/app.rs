//! What a packed module runs: a script (its folder packed at `/app`), a module (`-m`), or a
//! `[project.scripts]` entry of a project's `pyproject.toml` (a console script at `/app`);
//! and the guest command line that starts it.

use super::error::Error;
use std::path::{Path, PathBuf};

/// The guest folder the app's files are packed at (also put on `sys.path`).
pub const APP_DIR: &str = "/app";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// `python SCRIPT`: the script's folder is packed.
    Script(PathBuf),
    /// `python -m NAME`, with `dir` packed when it holds the module.
    Module { name: String, dir: Option<PathBuf> },
    /// A console script: `NAME = "module:attr"` of an installed project.
    Entry(Entry),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub module: String,
    pub attr: String,
    /// The project's name, as `[project] name` gives it.
    pub project: String,
}

impl App {
    /// The folder packed at [`APP_DIR`], if any.
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            App::Script(script) => Some(script.parent().unwrap_or(Path::new(".")).to_owned()),
            App::Module { dir, .. } => dir.clone(),
            App::Entry(_) => None,
        }
    }

    /// A name for the output file: the script's stem, the module or the entry.
    pub fn name(&self) -> String {
        match self {
            App::Script(script) => script
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into()),
            App::Module { name, .. } => name.clone(),
            App::Entry(entry) => entry.name.clone(),
        }
    }

    /// The guest's argv before the host's arguments. A script is run as the bytecode file
    /// packing made of it unless its source is kept.
    pub fn argv(&self, minor: &str, keep_source: bool) -> Vec<String> {
        let exe = format!("/usr/local/bin/python{minor}");
        let c = if keep_source { "" } else { "c" };
        match self {
            App::Script(script) => {
                let file = script.file_name().unwrap_or_default().to_string_lossy();
                let file = if file.ends_with(".py") {
                    format!("{file}{c}")
                } else {
                    file.into_owned()
                };
                vec![exe, format!("{APP_DIR}/{file}")]
            }
            App::Module { name, .. } => vec![exe, "-m".into(), name.clone()],
            App::Entry(entry) => vec![exe, format!("{APP_DIR}/{}", entry.name)],
        }
    }
}

impl Entry {
    /// The entry `name` of `pyproject`'s `[project.scripts]`.
    pub fn from_pyproject(pyproject: &Path, name: &str) -> Result<Self, Error> {
        let text = std::fs::read_to_string(pyproject)
            .map_err(|e| project_error(pyproject, format!("cannot be read: {e}")))?;
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| project_error(pyproject, e.message().to_owned()))?;
        let project = doc.get("project").and_then(|p| p.as_table());
        let project_name = project
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .ok_or_else(|| project_error(pyproject, "has no [project] name".into()))?;
        let scripts = project
            .and_then(|p| p.get("scripts"))
            .and_then(|s| s.as_table());
        let names = || scripts.map(|s| s.keys().cloned().collect::<Vec<_>>().join(", "));
        let target = scripts
            .and_then(|s| s.get(name))
            .and_then(|t| t.as_str())
            .ok_or_else(|| Error::NoEntry {
                name: name.to_owned(),
                path: pyproject.to_owned(),
                known: names().filter(|n| !n.is_empty()).unwrap_or("none".into()),
            })?;
        let (module, attr) = parse_target(target).ok_or_else(|| {
            project_error(
                pyproject,
                format!("`{name} = \"{target}\"` is not `module:function`"),
            )
        })?;
        Ok(Self {
            name: name.to_owned(),
            module,
            attr,
            project: project_name.to_owned(),
        })
    }

    /// The console script pip would write for this entry (its template, without a shebang).
    pub fn launcher(&self) -> String {
        let head = self.attr.split('.').next().unwrap_or(&self.attr);
        format!(
            "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {} import {head}\n\
             if __name__ == \"__main__\":\n    \
             sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    \
             sys.exit({}())\n",
            self.module, self.attr
        )
    }
}

fn project_error(path: &Path, reason: String) -> Error {
    Error::Project {
        path: path.to_owned(),
        reason,
    }
}

/// `module:attr` (extras in brackets, which pip ignores for console scripts, dropped).
fn parse_target(target: &str) -> Option<(String, String)> {
    let target = target.split('[').next()?.trim();
    let (module, attr) = target.split_once(':')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    (ok(module.trim()) && ok(attr.trim())).then(|| (module.trim().into(), attr.trim().into()))
}

/// PEP 503's normalised name: how a project and its `.dist-info` folder are matched.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            '-' | '_' | '.' if out.ends_with('-') => {}
            '-' | '_' | '.' => out.push('-'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_pip_reads_them() {
        let table = [
            ("pkg.cli:main", Some(("pkg.cli", "main"))),
            ("pkg:App.run", Some(("pkg", "App.run"))),
            (" pkg : main [extra]", Some(("pkg", "main"))),
            ("pkg", None),
            ("pkg:", None),
            ("pkg:main()", None),
        ];
        for (target, want) in table {
            let got = parse_target(target);
            let want = want.map(|(m, a)| (m.to_owned(), a.to_owned()));
            assert_eq!(got, want, "{target}");
        }
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        for (name, want) in [("My_Tool", "my-tool"), ("a.-_b", "a-b"), ("rich", "rich")] {
            assert_eq!(normalize(name), want);
        }
    }

    #[test]
    fn argv_names_the_bytecode_unless_sources_are_kept() {
        let script = App::Script("/p/main.py".into());
        assert_eq!(script.argv("3.12", false)[1], "/app/main.pyc");
        assert_eq!(script.argv("3.12", true)[1], "/app/main.py");
        let module = App::Module {
            name: "tool".into(),
            dir: None,
        };
        assert_eq!(
            module.argv("3.12", false),
            ["/usr/local/bin/python3.12", "-m", "tool"]
        );
    }

    #[test]
    fn an_entry_is_read_from_project_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        let text =
            "[project]\nname = \"Greet_Tool\"\n[project.scripts]\ngreet = \"greet.cli:main\"\n";
        std::fs::write(&path, text).unwrap();
        let entry = Entry::from_pyproject(&path, "greet").unwrap();
        assert_eq!(
            (entry.module.as_str(), entry.attr.as_str()),
            ("greet.cli", "main")
        );
        assert!(entry.launcher().contains("from greet.cli import main\n"));
        assert!(entry.launcher().contains("sys.exit(main())"));
        let err = Entry::from_pyproject(&path, "nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("greet") && err.contains("nope"), "{err}");
    }
}
