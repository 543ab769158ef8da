//! What the guest is told about the host process: its environment (as WASI can carry it)
//! and the facts WASI cannot ask for (ids, umask, terminal size).

use super::PRIVATE_PREFIX;

/// The names of the fields of [`facts`], in order; `shims/_wasipy_shim.py` reads them.
pub const FACTS: &[&str] = &["uid", "euid", "gid", "egid", "umask", "columns", "lines"];

/// The host environment, minus variables that are not UTF-8 (WASI carries text) and stale
/// private ones.
pub fn env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !k.starts_with(PRIVATE_PREFIX))
        .collect()
}

/// The [`FACTS`], comma-separated (columns and lines are 0 without a terminal).
pub fn facts() -> String {
    // SAFETY: plain libc queries; umask is set back at once, before any thread starts.
    let (uid, euid, gid, egid, umask) = unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
            mask,
        )
    };
    let (columns, lines) = terminal_size().unwrap_or((0, 0));
    format!("{uid},{euid},{gid},{egid},{umask},{columns},{lines}")
}

/// The size of the terminal on stdout, stderr or stdin, whichever is one.
fn terminal_size() -> Option<(u16, u16)> {
    [1, 2, 0].into_iter().find_map(|fd| {
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize; failure leaves it zeroed.
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0).then_some((size.ws_col, size.ws_row))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_have_one_number_per_field() {
        let facts = facts();
        let fields: Vec<&str> = facts.split(',').collect();
        assert_eq!(fields.len(), FACTS.len(), "{facts}");
        assert!(fields.iter().all(|f| f.parse::<u64>().is_ok()), "{facts}");
    }
}
