//! The launcher's decision, as a pure function: from what it found (the invoked path, the
//! arguments, the working directory, the environment, the venv and its runtime's mounts)
//! to the [`Guest`] it will run. Nothing here touches the disk or starts wasmtime, so every
//! rule is checked by a table.

use crate::guest::limits::Limits;
use crate::guest::mounts::Mount;
use crate::guest::sandbox::{self, KEY_ENV, KEY_MOUNTS};
use crate::guest::{plan, BridgeConfig, Guest, HOST_VAR};
use crate::venv::Venv;
use std::path::{Path, PathBuf};

/// Which view of the host the guest gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile<'a> {
    /// Host paths mean the same thing inside the guest.
    Transparent,
    /// Only the venv, the working directory, the script's directory, the listed mounts and
    /// this private temp dir (see [`crate::guest::sandbox`]).
    Sandbox { tmp: &'a Path },
}

/// What the launcher found before deciding.
#[derive(Debug, Clone)]
pub struct Found<'a> {
    /// The invoked python as an absolute, unresolved path (see `locate`).
    pub exe: &'a Path,
    pub args: &'a [String],
    pub cwd: Option<&'a Path>,
    /// The host's environment, as WASI can carry it.
    pub env: Vec<(String, String)>,
    /// The host facts for the shim ([`crate::guest::host::facts`]).
    pub host_facts: String,
    pub venv: &'a Venv,
    /// The runtime's transparent mounts, and its on-disk stdlib on its own.
    pub runtime_mounts: Vec<Mount>,
    pub stdlib: Vec<Mount>,
    /// Guest directories the runtime's embedded filesystem owns.
    pub shadowed: Vec<String>,
    /// The host directory behind the bridge's guest directory.
    pub bridge_dir: PathBuf,
    /// `WASIPY_MOUNTS` and `WASIPY_ENV`: the sandbox's extra lists.
    pub extra_mounts: &'a str,
    pub extra_env: &'a str,
    /// The venv's limits ([`Venv::limits`]).
    pub limits: Limits,
}

/// The guest a `python` invocation runs.
pub fn decide(found: Found<'_>, profile: Profile<'_>) -> Result<Guest, sandbox::Error> {
    let cfg = &found.venv.cfg;
    let env = match profile {
        Profile::Transparent => found.env,
        Profile::Sandbox { .. } => {
            let allow = sandbox::env_allow_list(&[cfg.get(KEY_ENV).unwrap_or(""), found.extra_env]);
            sandbox::filter_env(found.env, &allow)
        }
    };
    let bridge = BridgeConfig {
        host_dir: found.bridge_dir,
        network: found.venv.network(),
        shadowed: found.shadowed,
        sandboxed: matches!(profile, Profile::Sandbox { .. }),
    };
    let base = Guest {
        env,
        mounts: found.runtime_mounts,
        bridge: Some(bridge),
        limits: found.limits,
        ..Guest::default()
    };
    let (mut guest, script) = plan::command(base, found.exe, found.args, found.cwd);
    if let Profile::Sandbox { tmp } = profile {
        let mut extra = sandbox::parse_mounts(cfg.get(KEY_MOUNTS).unwrap_or(""))?;
        extra.extend(sandbox::parse_mounts(found.extra_mounts)?);
        extra.extend(found.stdlib);
        guest.mounts = sandbox::mounts(sandbox::Plan {
            venv: &found.venv.dir,
            cwd: found.cwd,
            script: script.as_deref(),
            tmp,
            extra,
        });
    }
    guest.env.push((HOST_VAR.to_owned(), found.host_facts));
    Ok(guest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::mounts::Access;
    use crate::guest::network::Policy;
    use crate::guest::{CWD_VAR, SCRIPT_VAR};
    use crate::venv::pyvenv_cfg::PyvenvCfg;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn venv(cfg: &[(&str, &str)]) -> Venv {
        Venv {
            dir: "/w/.venv".into(),
            cfg: PyvenvCfg::from_pairs(cfg.iter().copied()),
        }
    }

    fn mount(host: &str, guest: &str, access: Access) -> Mount {
        Mount {
            host: host.into(),
            guest: guest.into(),
            access,
        }
    }

    fn found<'a>(venv: &'a Venv, args: &'a [String], env: &[(&str, &str)]) -> Found<'a> {
        Found {
            exe: Path::new("/w/.venv/bin/python"),
            args,
            cwd: Some(Path::new("/w/proj")),
            env: pairs(env),
            host_facts: "0,0,0,0,18,80,24".into(),
            venv,
            runtime_mounts: vec![mount("/", "/", Access::ReadWrite)],
            stdlib: vec![mount(
                "/rt/lib/python3.13",
                "/usr/local/lib/python3.13",
                Access::ReadOnly,
            )],
            shadowed: vec!["/usr".into()],
            bridge_dir: "/cache/bridge".into(),
            extra_mounts: "/data:ro",
            extra_env: "MY_*",
            limits: venv.limits().unwrap(),
        }
    }

    fn var<'g>(guest: &'g Guest, name: &str) -> Option<&'g str> {
        guest
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_transparent_run_keeps_the_hosts_view() {
        let venv = venv(&[("wasipy-runtime", "rt"), ("wasipy-network", "off")]);
        let args = strings(&["app.py", "x"]);
        let env = [("HOME", "/root"), ("SECRET", "s")];
        let guest = decide(found(&venv, &args, &env), Profile::Transparent).unwrap();
        assert_eq!(
            guest.argv,
            strings(&["/w/.venv/bin/python", "/w/proj/app.py", "x"])
        );
        assert_eq!(guest.mounts, vec![mount("/", "/", Access::ReadWrite)]);
        assert_eq!(var(&guest, "SECRET"), Some("s"));
        assert_eq!(var(&guest, "HOME"), Some("/root"));
        assert_eq!(var(&guest, SCRIPT_VAR), Some("app.py"));
        assert_eq!(var(&guest, CWD_VAR), Some("/w/proj"));
        assert_eq!(var(&guest, HOST_VAR), Some("0,0,0,0,18,80,24"));
        let bridge = guest.bridge.unwrap();
        assert_eq!(bridge.network, Policy::Off);
        assert_eq!(bridge.shadowed, vec!["/usr".to_owned()]);
        assert!(guest.may_resume);
    }

    #[test]
    fn a_sandboxed_run_sees_only_what_it_was_given() {
        let venv = venv(&[
            ("wasipy-runtime", "rt"),
            ("wasipy-sandbox", "true"),
            ("wasipy-mounts", "/srv/in::/in"),
            ("wasipy-env", "TOKEN"),
        ]);
        let args = strings(&["/opt/tools/run.py"]);
        let env = [
            ("HOME", "/root"),
            ("SECRET", "s"),
            ("TOKEN", "t"),
            ("MY_X", "1"),
        ];
        let tmp = Path::new("/tmp/wasipy-sandbox-1");
        let guest = decide(found(&venv, &args, &env), Profile::Sandbox { tmp }).unwrap();
        let (rw, ro) = (Access::ReadWrite, Access::ReadOnly);
        assert_eq!(
            guest.mounts,
            vec![
                mount("/w/.venv", "/w/.venv", rw),
                mount("/w/proj", "/w/proj", rw),
                mount("/opt/tools", "/opt/tools", ro),
                mount("/tmp/wasipy-sandbox-1", "/tmp", rw),
                mount("/srv/in", "/in", rw),
                mount("/data", "/data", ro),
                mount("/rt/lib/python3.13", "/usr/local/lib/python3.13", ro),
            ]
        );
        assert_eq!(var(&guest, "SECRET"), None);
        assert_eq!(var(&guest, "TOKEN"), Some("t"));
        assert_eq!(var(&guest, "MY_X"), Some("1"));
        assert_eq!(var(&guest, "HOME"), Some("/tmp"));
        assert_eq!(var(&guest, CWD_VAR), Some("/w/proj"));
        assert!(var(&guest, HOST_VAR).is_some());
    }

    #[test]
    fn a_bad_sandbox_mount_is_an_error() {
        let venv = venv(&[("wasipy-sandbox", "true"), ("wasipy-mounts", "relative")]);
        let args = strings(&["-c", "pass"]);
        let tmp = Path::new("/tmp/t");
        assert!(decide(found(&venv, &args, &[]), Profile::Sandbox { tmp }).is_err());
    }

    #[test]
    fn snapshot_eligibility_and_isolation_flags() {
        let venv = venv(&[("wasipy-runtime", "rt"), ("wasipy-sandbox", "true")]);
        let seed = [("PYTHONHASHSEED", "0")];
        let c_locale = [("LC_ALL", "C")];
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool, bool);
        let cases: &[Case] = &[
            (&["-c", "pass"], &[], false, true),
            (&["-S", "-c", "pass"], &[], false, false),
            (&["-c", "pass"], &seed, false, false),
            (&["-E", "-c", "pass"], &seed, false, true),
            (&["-I", "/w/app.py"], &seed, false, true),
            (&["-I", "-c", "pass"], &c_locale, false, false),
            // The sandbox passes PYTHON* variables: the same rules hold there.
            (&["-c", "pass"], &seed, true, false),
            (&["-s", "-c", "pass"], &[], true, true),
        ];
        let tmp = Path::new("/tmp/t");
        for (args, env, sandboxed, expected) in cases {
            let args = strings(args);
            let profile = match sandboxed {
                true => Profile::Sandbox { tmp },
                false => Profile::Transparent,
            };
            let guest = decide(found(&venv, &args, env), profile).unwrap();
            assert_eq!(guest.may_resume, *expected, "{args:?} {env:?} {sandboxed}");
            // -I and -E are CPython's to honour: the guest still gets its cwd and the venv.
            assert_eq!(var(&guest, CWD_VAR), Some("/w/proj"), "{args:?}");
            assert_eq!(guest.argv[1..], args[..], "{args:?}");
        }
    }
}
