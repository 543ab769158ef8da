//! The part of a guest its command line decides, the same for the launcher's python and
//! for child interpreters: argv, the shim's private variables, snapshot eligibility.

use super::cmdline::{Cmdline, Target};
use super::{Guest, CWD_VAR, SCRIPT_VAR};
use std::path::{Path, PathBuf};

/// Fills in `guest`'s argv from the invoked interpreter `exe` and its `args`, and returns
/// the script it runs, if any, as an absolute host path.
///
/// argv[0] is the absolute host path of the invoked python (CPython derives
/// `sys.executable` and the venv from it); a relative script path is made absolute (the
/// guest starts at `/`) and its typed spelling passed to the shim; everything else passes
/// unchanged. `guest.env` must be complete: it decides whether the run may resume a
/// snapshot.
pub fn command(
    mut guest: Guest,
    exe: &Path,
    args: &[String],
    cwd: Option<&Path>,
) -> (Guest, Option<PathBuf>) {
    let cmdline = Cmdline::parse(args);
    guest.may_resume = cmdline.may_resume(&guest.env);
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(exe.to_string_lossy().into_owned());
    argv.extend(args.iter().cloned());
    let mut script = None;
    if let Target::Script(index) = cmdline.target {
        let typed = &args[index];
        if let (false, Some(cwd)) = (typed.starts_with('/'), cwd) {
            argv[index + 1] = cwd.join(typed).to_string_lossy().into_owned();
            guest.env.push((SCRIPT_VAR.to_owned(), typed.clone()));
        }
        script = Some(PathBuf::from(&argv[index + 1]));
    }
    if let Some(cwd) = cwd.and_then(Path::to_str) {
        guest.env.push((CWD_VAR.to_owned(), cwd.to_owned()));
    }
    guest.argv = argv;
    (guest, script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a str>,
        Option<&'a str>,
    );

    #[test]
    fn plans_argv_script_and_shim_variables() {
        let exe = Path::new("/w/.venv/bin/python");
        let cwd = Some(Path::new("/w/proj"));
        let cases: &[Case] = &[
            (
                &["app.py", "a b"],
                &["/w/.venv/bin/python", "/w/proj/app.py", "a b"],
                Some("app.py"),
                Some("/w/proj/app.py"),
            ),
            (
                &["-u", "sub/app.py"],
                &["/w/.venv/bin/python", "-u", "/w/proj/sub/app.py"],
                Some("sub/app.py"),
                Some("/w/proj/sub/app.py"),
            ),
            (
                &["/abs/app.py"],
                &["/w/.venv/bin/python", "/abs/app.py"],
                None,
                Some("/abs/app.py"),
            ),
            (
                &["-c", "pass", "x.py"],
                &["/w/.venv/bin/python", "-c", "pass", "x.py"],
                None,
                None,
            ),
            (
                &["-m", "json.tool", "d.json"],
                &["/w/.venv/bin/python", "-m", "json.tool", "d.json"],
                None,
                None,
            ),
        ];
        for (given, argv, typed, script) in cases {
            let (guest, got_script) = command(Guest::default(), exe, &args(given), cwd);
            assert_eq!(guest.argv, args(argv), "{given:?}");
            assert_eq!(got_script, script.map(PathBuf::from), "{given:?}");
            let env_script = guest
                .env
                .iter()
                .find(|(k, _)| k == SCRIPT_VAR)
                .map(|(_, v)| v.as_str());
            assert_eq!(env_script, *typed, "{given:?}");
            assert!(guest
                .env
                .contains(&(CWD_VAR.to_owned(), "/w/proj".to_owned())));
        }
    }

    #[test]
    fn snapshot_eligibility_follows_the_command_line_and_environment() {
        let exe = Path::new("/v/bin/python");
        let seeded = Guest {
            env: vec![("PYTHONHASHSEED".into(), "1".into())],
            ..Guest::default()
        };
        let cases: &[(&Guest, &[&str], bool)] = &[
            (&Guest::default(), &["-c", "pass"], true),
            (&Guest::default(), &["-S", "s.py"], false),
            (&Guest::default(), &["s.py", "-S"], true),
            (&seeded, &["-c", "pass"], false),
            (&seeded, &["-E", "-c", "pass"], true),
            (&seeded, &["-I", "s.py"], true),
        ];
        for (guest, given, expected) in cases {
            let (planned, _) = command((*guest).clone(), exe, &args(given), None);
            assert_eq!(planned.may_resume, *expected, "{given:?} {:?}", guest.env);
        }
    }
}
