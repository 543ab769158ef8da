//! Host errnos by name: the guest's errno numbers are WASI's, so a host error crosses the
//! bridge as its name (`ECONNREFUSED`) and the guest maps it to its own number.

use super::reply::Failure;

/// Host errno -> name, for the errors sockets and name lookups give.
const NAMES: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENFILE, "ENFILE"),
    (libc::EPIPE, "EPIPE"),
    (libc::EROFS, "EROFS"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::ELOOP, "ELOOP"),
    (libc::ENAMETOOLONG, "ENAMETOOLONG"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ENETRESET, "ENETRESET"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EALREADY, "EALREADY"),
    (libc::EINPROGRESS, "EINPROGRESS"),
];

/// The name of host errno `code`; `EIO` for one the guest would not know.
pub fn name(code: i32) -> &'static str {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("EIO", |(_, n)| n)
}

/// CPython's message for host errno `code` (`strerror`, without Rust's "(os error N)").
pub fn message(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    match text.rfind(" (os error") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// A failure the guest raises as `OSError(errno, strerror)`.
pub fn failure(code: i32) -> Failure {
    os(name(code), message(code))
}

/// A failure the guest raises as `OSError` with errno `name` and `message`.
pub fn os(name: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        errno: Some(name),
        ..Failure::new("os", message)
    }
}

/// An I/O error as the failure the guest raises for it.
pub fn from_io(err: &std::io::Error) -> Failure {
    match err.raw_os_error() {
        Some(code) => failure(code),
        None if err.kind() == std::io::ErrorKind::WouldBlock => failure(libc::EAGAIN),
        None if err.kind() == std::io::ErrorKind::BrokenPipe => failure(libc::EPIPE),
        None => os("EIO", err.to_string()),
    }
}

/// The guest's (WASI's) errno for a host I/O error the bridge met doing a call itself;
/// `fallback` for one the table does not name.
pub fn wasi(err: &std::io::Error, fallback: i32) -> i32 {
    const TABLE: &[(i32, i32)] = &[
        (libc::EACCES, 2),
        (libc::EAGAIN, 6),
        (libc::EBADF, 8),
        (libc::EEXIST, 20),
        (libc::EINVAL, 28),
        (libc::EIO, 29),
        (libc::EISDIR, 31),
        (libc::ELOOP, 32),
        (libc::ENAMETOOLONG, 37),
        (libc::ENOENT, 44),
        (libc::ENOSPC, 51),
        (libc::ENOTDIR, 54),
        (libc::EPERM, 63),
        (libc::EPIPE, 64),
        (libc::EROFS, 69),
    ];
    let raw = err.raw_os_error().unwrap_or(libc::EIO);
    TABLE
        .iter()
        .find(|(host, _)| *host == raw)
        .map_or(fallback, |(_, wasi)| *wasi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_messages() {
        let cases: &[(i32, &str, &str)] = &[
            (libc::ECONNREFUSED, "ECONNREFUSED", "Connection refused"),
            (
                libc::EINPROGRESS,
                "EINPROGRESS",
                "Operation now in progress",
            ),
            (libc::EPIPE, "EPIPE", "Broken pipe"),
            (libc::EADDRINUSE, "EADDRINUSE", "Address already in use"),
            (libc::EXDEV, "EIO", "Invalid cross-device link"),
        ];
        for (code, name_, text) in cases {
            assert_eq!((name(*code), message(*code).as_str()), (*name_, *text));
        }
        let would_block = std::io::Error::from(std::io::ErrorKind::WouldBlock);
        assert_eq!(from_io(&would_block).errno, Some("EAGAIN"));
    }
}
