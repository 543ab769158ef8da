//! Reading CPython's own command line, just enough to find the script argument and the
//! options that decide whether a run may start from a snapshot.
//!
//! The guest starts with its working directory at `/` and CPython makes a relative script
//! path absolute before `site` runs, so the launcher must hand it an absolute path. It
//! changes nothing else on the command line.

/// Short options that take a value (`-W arg`, `-Warg`), besides `-c` and `-m`.
const SHORT_WITH_VALUE: &[char] = &['W', 'X'];
/// Long options that take a value.
const LONG_WITH_VALUE: &[&str] = &["--check-hash-based-pycs"];

/// What the interpreter will run, as far as the launcher cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A script file: its index in the argument list (argv[1..]).
    Script(usize),
    /// `-c`, `-m`, `-` (stdin), the REPL, or an informational option such as `-V`.
    Other,
}

/// Finds the script argument in `args` (the arguments after argv[0]).
pub fn target(args: &[String]) -> Target {
    walk(args).1
}

/// The short options before the program (`-c`/`-m` excluded), each with its value for
/// `-W` and `-X`: `["-uX", "dev", "s.py"]` gives `[('u', None), ('X', Some("dev"))]`.
pub fn short_options(args: &[String]) -> Vec<(char, Option<&str>)> {
    walk(args).0
}

/// Reads the options as CPython does, up to what the interpreter will run.
fn walk(args: &[String]) -> (Vec<(char, Option<&str>)>, Target) {
    let mut options = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            return (options, script_at(args, i + 1));
        }
        if let Some(long) = arg.strip_prefix("--") {
            let name = format!("--{}", long.split('=').next().unwrap_or(""));
            if LONG_WITH_VALUE.contains(&name.as_str()) && !long.contains('=') {
                i += 1;
            }
            i += 1;
            continue;
        }
        let Some(flags) = arg.strip_prefix('-') else {
            return (options, Target::Script(i));
        };
        if flags.is_empty() {
            return (options, Target::Other); // `-`: read the program from stdin
        }
        for (pos, flag) in flags.char_indices() {
            if flag == 'c' || flag == 'm' {
                return (options, Target::Other);
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
        i += 1;
    }
    (options, Target::Other)
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
            assert_eq!(target(&args), *expected, "{args:?}");
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
            assert_eq!(short_options(&args), *expected, "{args:?}");
        }
    }
}
