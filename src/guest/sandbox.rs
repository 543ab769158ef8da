//! The sandbox profile (`wasipy venv --sandbox`, `wasipy-sandbox = true` in pyvenv.cfg):
//! the guest sees only the venv, the working directory, the running script's directory
//! (read-only), a private temp dir and the directories the user lists; only allow-listed
//! environment variables pass; network goes only to allowed hosts (see `wasipy-network`).

use super::mounts::{Access, Mount};
use std::path::Path;

/// `pyvenv.cfg` key turning the sandbox on.
pub const KEY_SANDBOX: &str = "wasipy-sandbox";
/// `pyvenv.cfg` key listing extra mounts, `HOST[::GUEST][:ro|:rw]`, comma-separated.
pub const KEY_MOUNTS: &str = "wasipy-mounts";
/// `pyvenv.cfg` key listing extra environment variables to pass (`NAME` or `PREFIX*`).
pub const KEY_ENV: &str = "wasipy-env";
/// Where the private temp dir appears in the guest (also `TMPDIR` and `HOME` there).
pub const GUEST_TMP: &str = "/tmp";

/// Variables a sandboxed python gets by default: locale, terminal, Python's and pip's own.
const DEFAULT_ENV: &[&str] = &[
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "COLUMNS",
    "LINES",
    "TZ",
    "PYTHON*",
    "PIP_*",
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Mount(#[from] super::mounts::Error),
    #[error("cannot create the sandbox's temp dir: {0}")]
    Temp(std::io::Error),
}

/// Whether an environment variable name matches an allow-list entry (`NAME`, `PREFIX*`).
fn allowed(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == p,
    })
}

/// The allow-list: the defaults plus `extra` entries (space- or comma-separated).
pub fn env_allow_list(extra: &[&str]) -> Vec<String> {
    let mut list: Vec<String> = DEFAULT_ENV.iter().map(|s| s.to_string()).collect();
    for text in extra {
        list.extend(
            text.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    list
}

/// The environment filtered by the allow-list, with the private temp dir as TMPDIR and HOME.
pub fn filter_env(env: Vec<(String, String)>, allow: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| allowed(k, allow) && k != "TMPDIR" && k != "HOME")
        .collect();
    out.push(("TMPDIR".into(), GUEST_TMP.into()));
    out.push(("HOME".into(), GUEST_TMP.into()));
    out
}

/// Parses a comma-separated list of mount specs.
pub fn parse_mounts(text: &str) -> Result<Vec<Mount>, Error> {
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Mount::parse)
        .collect::<Result<_, _>>()?)
}

/// What the sandbox maps, in order; a guest path already mapped is not mapped again.
pub struct Plan<'a> {
    pub venv: &'a Path,
    pub cwd: Option<&'a Path>,
    pub script: Option<&'a Path>,
    pub tmp: &'a Path,
    pub extra: Vec<Mount>,
}

pub fn mounts(plan: Plan<'_>) -> Vec<Mount> {
    let same = |path: &Path, access| Mount {
        host: path.to_owned(),
        guest: path.to_string_lossy().into_owned(),
        access,
    };
    let mut all = vec![same(plan.venv, Access::ReadWrite)];
    if let Some(cwd) = plan.cwd.filter(|c| *c != Path::new("/")) {
        all.push(same(cwd, Access::ReadWrite));
    }
    if let Some(dir) = plan.script.and_then(Path::parent) {
        let covered = all.iter().any(|m| dir.starts_with(&m.host));
        if !covered {
            all.push(same(dir, Access::ReadOnly));
        }
    }
    all.push(Mount {
        host: plan.tmp.to_owned(),
        guest: GUEST_TMP.into(),
        access: Access::ReadWrite,
    });
    all.extend(plan.extra);
    let mut seen = std::collections::HashSet::new();
    all.retain(|m| seen.insert(m.guest.clone()));
    all
}

/// A private temp dir for one run (removed when dropped).
pub fn temp_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("wasipy-sandbox-")
        .tempdir()
        .map_err(Error::Temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_passes_only_by_allow_list() {
        let allow = env_allow_list(&["MY_TOKEN, AWS_*"]);
        let env = vec![
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("SECRET".to_owned(), "x".to_owned()),
            ("MY_TOKEN".to_owned(), "t".to_owned()),
            ("AWS_REGION".to_owned(), "eu".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
            ("PIP_INDEX_URL".to_owned(), "u".to_owned()),
        ];
        let names: Vec<String> = filter_env(env, &allow)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            names,
            [
                "LANG=C.UTF-8",
                "MY_TOKEN=t",
                "AWS_REGION=eu",
                "PIP_INDEX_URL=u",
                "TMPDIR=/tmp",
                "HOME=/tmp"
            ]
        );
    }

    #[test]
    fn maps_venv_cwd_script_dir_tmp_and_extras_once() {
        let extra = parse_mounts("/data:ro, /srv/x::/x").unwrap();
        let got: Vec<(String, String, Access)> = mounts(Plan {
            venv: Path::new("/w/.venv"),
            cwd: Some(Path::new("/w")),
            script: Some(Path::new("/opt/tools/run.py")),
            tmp: Path::new("/tmp/wasipy-sandbox-1"),
            extra,
        })
        .into_iter()
        .map(|m| (m.host.display().to_string(), m.guest, m.access))
        .collect();
        let rw = Access::ReadWrite;
        let ro = Access::ReadOnly;
        assert_eq!(
            got,
            vec![
                ("/w/.venv".into(), "/w/.venv".into(), rw),
                ("/w".into(), "/w".into(), rw),
                ("/opt/tools".into(), "/opt/tools".into(), ro),
                ("/tmp/wasipy-sandbox-1".into(), "/tmp".into(), rw),
                ("/data".into(), "/data".into(), ro),
                ("/srv/x".into(), "/x".into(), rw),
            ]
        );
        assert!(parse_mounts("relative").is_err());
    }
}
