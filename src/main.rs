//! Entry point: turns the one `Result` of [`wasipy::run`] into a process exit code.

fn main() {
    let code = match wasipy::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("wasipy: error: {err:#}");
            1
        }
    };
    // The guest's output goes through Rust's stdout buffer; `exit` would not flush it.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}
