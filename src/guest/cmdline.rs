//! CPython's own command line, read once, as CPython reads it: the options before the
//! program, and what the interpreter will run (a script file, or something else).
//!
//! The launcher needs the script (the guest starts at `/` and CPython makes a relative
//! script path absolute before `site` runs) and the options that decide whether a run may
//! resume a start-up snapshot. It changes nothing else on the command line.

/// Short options that take a value (`-W arg`, `-Warg`), besides `-c` and `-m`.
const SHORT_WITH_VALUE: &[char] = &['W', 'X'];
/// Long options that take a value.
const LONG_WITH_VALUE: &[&str] = &["--check-hash-based-pycs"];

/// Options decided in the core phase, or whose output covers the imports a snapshot did.
const COLD_OPTIONS: &[char] = &['S', 'v'];
/// `-X` options of that kind.
const COLD_X_OPTIONS: &[&str] = &["importtime", "frozen_modules", "dev", "utf8", "presite"];
/// Variables the core phase reads (CPython ignores them when empty).
const COLD_VARS: &[&str] = &[
    "PYTHONHASHSEED",
    "PYTHONMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONUTF8",
    "PYTHONCOERCECLOCALE",
    "PYTHONDEVMODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONVERBOSE",
    "PYTHONHOME",
    "PYTHONPLATLIBDIR",
];

/// What the interpreter will run, as far as the launcher cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A script file: its index in the argument list (argv[1..]).
    Script(usize),
    /// `-c`, `-m`, `-` (stdin), the REPL, or an informational option such as `-V`.
    Other,
}

/// The arguments after argv[0], read up to what the interpreter will run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmdline<'a> {
    /// The short options before the program (`-c`/`-m` excluded), each with its value for
    /// `-W` and `-X`: `-uX dev s.py` gives `[('u', None), ('X', Some("dev"))]`.
    pub options: Vec<(char, Option<&'a str>)>,
    pub target: Target,
}

impl<'a> Cmdline<'a> {
    pub fn parse(args: &'a [String]) -> Self {
        let mut options = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                return Self::ending(options, script_at(args, i + 1));
            }
            if let Some(long) = arg.strip_prefix("--") {
                i += 1 + usize::from(takes_value(long));
                continue;
            }
            let Some(flags) = arg.strip_prefix('-') else {
                return Self::ending(options, Target::Script(i));
            };
            if flags.is_empty() {
                return Self::ending(options, Target::Other); // `-`: the program from stdin
            }
            let (next, program) = short_flags(args, i, flags, &mut options);
            if program {
                return Self::ending(options, Target::Other);
            }
            i = next + 1;
        }
        Self::ending(options, Target::Other)
    }

    fn ending(options: Vec<(char, Option<&'a str>)>, target: Target) -> Self {
        Self { options, target }
    }

    /// Whether `flag` is among the options.
    pub fn has(&self, flag: char) -> bool {
        self.options.iter().any(|(f, _)| *f == flag)
    }

    /// Whether a run with this command line and environment may resume a start-up
    /// snapshot: nothing may ask for what the snapshot's core phase decided otherwise. The
    /// snapshot was made with no environment, where the C library's locale is C.UTF-8.
    pub fn may_resume(&self, env: &[(String, String)]) -> bool {
        let options_ok = self.options.iter().all(|(flag, value)| match flag {
            'X' => {
                let name = value.unwrap_or("").split('=').next().unwrap_or("");
                !COLD_X_OPTIONS.contains(&name)
            }
            _ => !COLD_OPTIONS.contains(flag),
        });
        let get = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // -E and -I: CPython ignores the PYTHON* variables (not the locale).
        let ignore_env = self.has('E') || self.has('I');
        let vars_ok = ignore_env || COLD_VARS.iter().all(|name| get(name).is_none());
        // CPython coerces a C or POSIX locale and turns on UTF-8 mode; any UTF-8 locale (or
        // none) decides as the snapshot's did, and resume sets LC_CTYPE from the environment.
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"].into_iter().find_map(get);
        let locale_ok = locale.is_none_or(|l| {
            let l = l.to_ascii_lowercase();
            l.ends_with(".utf-8") || l.ends_with(".utf8")
        });
        options_ok && vars_ok && locale_ok
    }
}

/// Whether long option `--name[=value]` takes the next argument as its value.
fn takes_value(long: &str) -> bool {
    let name = format!("--{}", long.split('=').next().unwrap_or(""));
    LONG_WITH_VALUE.contains(&name.as_str()) && !long.contains('=')
}

/// Reads the flags of `args[i]` (`-uX dev`) into `options`; returns the index of the last
/// argument used and whether a `-c`/`-m` program starts here.
fn short_flags<'a>(
    args: &'a [String],
    mut i: usize,
    flags: &'a str,
    options: &mut Vec<(char, Option<&'a str>)>,
) -> (usize, bool) {
    for (pos, flag) in flags.char_indices() {
        if flag == 'c' || flag == 'm' {
            return (i, true);
        }
        if SHORT_WITH_VALUE.contains(&flag) {
            let rest = &flags[pos + flag.len_utf8()..];
            let value = if rest.is_empty() {
                i += 1; // the value is the next argument
                args.get(i).map(String::as_str)
            } else {
                Some(rest)
            };
            options.push((flag, value));
            break;
        }
        options.push((flag, None));
    }
    (i, false)
}

fn script_at(args: &[String], index: usize) -> Target {
    match args.get(index) {
        Some(arg) if arg != "-" => Target::Script(index),
        _ => Target::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_script_like_cpython() {
        let cases: &[(&[&str], Target)] = &[
            (&["app.py"], Target::Script(0)),
            (&["app.py", "-c", "x"], Target::Script(0)),
            (&["-u", "app.py", "a"], Target::Script(1)),
            (&["-uB", "-E", "app.py"], Target::Script(2)),
            (&["-W", "ignore", "app.py"], Target::Script(2)),
            (&["-Wignore", "app.py"], Target::Script(1)),
            (&["-X", "dev", "-W", "error", "s.py"], Target::Script(4)),
            (&["-BX", "utf8", "s.py"], Target::Script(2)),
            (
                &["--check-hash-based-pycs", "always", "s.py"],
                Target::Script(2),
            ),
            (
                &["--check-hash-based-pycs=always", "s.py"],
                Target::Script(1),
            ),
            (&["--", "s.py"], Target::Script(1)),
            (&["--", "-"], Target::Other),
            (&["-c", "print(1)", "s.py"], Target::Other),
            (&["-cprint(1)"], Target::Other),
            (&["-m", "json.tool", "f.json"], Target::Other),
            (&["-Im", "pip"], Target::Other),
            (&["-"], Target::Other),
            (&["-i"], Target::Other),
            (&["-V"], Target::Other),
            (&[], Target::Other),
        ];
        for (args, expected) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(Cmdline::parse(&args).target, *expected, "{args:?}");
        }
    }

    type Options<'a> = &'a [(char, Option<&'a str>)];

    #[test]
    fn reads_short_options_with_their_values() {
        let cases: &[(&[&str], Options)] = &[
            (&["s.py", "-S"], &[]),
            (&["-uSB", "s.py"], &[('u', None), ('S', None), ('B', None)]),
            (&["-X", "dev", "-c", "x"], &[('X', Some("dev"))]),
            (
                &["-Ximporttime", "-Werror"],
                &[('X', Some("importtime")), ('W', Some("error"))],
            ),
            (
                &["-IX", "utf8", "-m", "pip", "-v"],
                &[('I', None), ('X', Some("utf8"))],
            ),
            (&["-vc", "x"], &[('v', None)]),
            (&["--check-hash-based-pycs", "never", "-s"], &[('s', None)]),
            (&["-X"], &[('X', None)]),
        ];
        for (args, expected) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(Cmdline::parse(&args).options, *expected, "{args:?}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    type Vars<'a> = &'a [(&'a str, &'a str)];

    #[test]
    fn resumes_only_what_the_core_phase_decided_the_same() {
        let cases: &[(&[&str], Vars, bool)] = &[
            (&["-c", "pass"], &[], true),
            (&["-m", "pip", "-v"], &[("LANG", "C.UTF-8")], true),
            (
                &["-IuB", "-W", "error", "s.py", "-S"],
                &[("LANG", "en_US.UTF-8")],
                true,
            ),
            (
                &["-X", "int_max_str_digits=0", "-c", "x"],
                &[("PYTHONPATH", "/x")],
                true,
            ),
            (&["-c", "x"], &[("PYTHONHASHSEED", "")], true),
            (&["-I", "-c", "x"], &[("PYTHONHASHSEED", "0")], true),
            (&["-Ec", "x"], &[("PYTHONMALLOC", "malloc")], true),
            (&["-E", "-c", "x"], &[("LANG", "C")], false),
            (&["-S", "-c", "x"], &[], false),
            (&["-Ivc", "x"], &[], false),
            (&["-X", "importtime", "-c", "x"], &[], false),
            (&["-Xfrozen_modules=off", "s.py"], &[], false),
            (&["-X", "dev"], &[], false),
            (&["-c", "x"], &[("PYTHONHASHSEED", "0")], false),
            (&["-c", "x"], &[("PYTHONMALLOC", "malloc")], false),
            (&["-c", "x"], &[("LANG", "C")], false),
            (
                &["-c", "x"],
                &[("LANG", "en_US.UTF-8"), ("LC_ALL", "POSIX")],
                false,
            ),
            (&["-c", "x"], &[("LC_CTYPE", "de_DE.ISO-8859-1")], false),
        ];
        for (args, vars, expected) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let cmdline = Cmdline::parse(&args);
            assert_eq!(
                cmdline.may_resume(&env(vars)),
                *expected,
                "{args:?} {vars:?}"
            );
        }
    }
}
