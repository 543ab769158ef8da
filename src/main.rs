//! Entry point: turns the one `Result` of [`wasipy::run`] into a process exit code.

fn main() {
    let code = match wasipy::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("wasipy: error: {}", message(&err));
            1
        }
    };
    // The guest's output goes through Rust's stdout buffer; `exit` would not flush it.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}

/// The error and its causes on one line, leaving out a cause the message already quotes
/// (most errors name their I/O cause themselves).
fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
