//! Building a runtime from source on this machine: wasipy's own `scripts/build-runtime`
//! (embedded, with the files it uses) run in the cache. It is resumable, as its steps leave
//! stamps; wasipy shows one progress line naming the step it is on.

use crate::fsio;
use crate::runtime::catalogue::version_matches;
use crate::settings::Settings;
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The scripts a build runs, by the names `build-runtime` finds them under.
const SCRIPTS: &[(&str, &str)] = &[
    ("build-runtime", include_str!("../../scripts/build-runtime")),
    ("preinit.c", include_str!("../../scripts/preinit.c")),
    ("runtime-wheel", include_str!("../../scripts/runtime-wheel")),
];

/// The CPython version the embedded script builds (its `PY_VERSION=` line).
pub fn script_version() -> &'static str {
    SCRIPTS[0]
        .1
        .lines()
        .find_map(|l| l.strip_prefix("PY_VERSION="))
        .expect("scripts/build-runtime sets PY_VERSION")
}

/// Builds CPython `version` for WASI from source and returns the tarball it made.
pub fn build(version: &str, settings: &Settings) -> anyhow::Result<PathBuf> {
    let built = script_version();
    if !version_matches(built, version) {
        bail!("wasipy's scripts/build-runtime builds CPython {built}, not {version}");
    }
    let root = settings.cache_home()?.join("build-runtime");
    let scripts = root.join("scripts");
    for (name, text) in SCRIPTS {
        fsio::write_atomically(&scripts.join(name), text.as_bytes())?;
    }
    let out = root.join("out");
    eprintln!(
        "wasipy: building CPython {built} for WASI from source in `{}` (about 15 minutes on 2 cores; stopped, it resumes where it was)",
        root.display()
    );
    run(&scripts.join("build-runtime"), &root, &out, built)?;
    let tarball = out.join(format!("cpython-{built}-wasi-wasipy.tar.xz"));
    if !tarball.is_file() {
        bail!("the build ended without writing `{}`", tarball.display());
    }
    Ok(tarball)
}

/// Runs the script, turning its `==> step` lines into one progress line (or, off a
/// terminal, printing them) and passing everything else through.
fn run(script: &Path, root: &Path, out: &Path, version: &str) -> anyhow::Result<()> {
    let mut child = Command::new("bash")
        .arg(script)
        .arg("--build-dir")
        .arg(root)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run bash for scripts/build-runtime")?;
    let progress = Progress::new(version);
    let stderr = child.stderr.take().expect("stderr is piped");
    for line in BufReader::new(stderr).lines() {
        progress.line(&line.context("reading the build's output")?);
    }
    let status = child.wait().context("waiting for the build")?;
    progress.finish();
    if !status.success() {
        bail!(
            "building CPython {version} failed ({status}): see the messages above; once fixed, the same command resumes the build"
        );
    }
    Ok(())
}

/// The build's progress line: a spinner, the time so far and the current step.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(version: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            let template =
                format!("{{spinner}} [{{elapsed_precise}}] building CPython {version}: {{msg}}");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self { bar }
    }

    fn line(&self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        match (&self.bar, line.strip_prefix("==> ")) {
            (Some(bar), Some(step)) => bar.set_message(step.to_owned()),
            (Some(bar), None) => bar.println(line),
            (None, _) => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_script_names_its_version() {
        let version = script_version();
        assert!(version.split('.').count() == 3, "{version}");
        let catalogue = crate::runtime::catalogue::get();
        let builds: Vec<_> = catalogue
            .runtimes
            .iter()
            .flat_map(|e| &e.sources)
            .filter_map(|s| match s {
                crate::runtime::catalogue::Source::Build(v) => Some(v.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            builds.iter().all(|v| version_matches(version, v)),
            "{builds:?}"
        );
    }
}
