//! Reading CPython's own command line, just enough to find the script argument.
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
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            return script_at(args, i + 1);
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
            return Target::Script(i);
        };
        if flags.is_empty() {
            return Target::Other; // `-`: read the program from stdin
        }
        for (pos, flag) in flags.char_indices() {
            if flag == 'c' || flag == 'm' {
                return Target::Other;
            }
            if SHORT_WITH_VALUE.contains(&flag) {
                if pos + flag.len_utf8() == flags.len() {
                    i += 1; // the value is the next argument
                }
                break;
            }
        }
        i += 1;
    }
    Target::Other
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
}
