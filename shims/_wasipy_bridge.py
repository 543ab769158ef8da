"""Guest side of the wasipy host bridge: one request frame out, one reply frame back.

The frame format is documented in the launcher's ``src/bridge/frame.rs`` (version 1):
a 16-byte header (magic ``WPYB``, version, kind, meta length, body length), a JSON
object ("meta") and raw bytes ("body"). The channel is a descriptor for the directory
``/.wasipy-bridge``; the launcher answers writes to it in place of the filesystem.
"""

import json
import os
import struct

GUEST_DIR = "/.wasipy-bridge"
MAGIC = b"WPYB"
VERSION = 1
REQUEST, REPLY, ERROR = 1, 2, 3
_HEADER = struct.Struct("<4sBBHII")

_fd = None


class BridgeError(OSError):
    """A failed bridge operation; ``kind`` says what failed (``connect``, ``dns``,
    ``tls``, ``denied``, ...), the message says where and why."""

    def __init__(self, kind, message, name=None, detail=None):
        super().__init__(message)
        self.kind = kind
        self.name = name  # an errno-like name (``EAI_NONAME``), for kinds that have one
        self.detail = detail

    def __str__(self):
        return self.args[0]


class BridgeTimeout(BridgeError, TimeoutError):
    """A timed-out operation (also a ``socket.timeout``, as HTTP libraries expect)."""


def error(kind, message, errno_name=None, filename=None, detail=None):
    if kind == "os":
        import errno

        # OSError(ENOENT, ...) becomes FileNotFoundError, and so on, as natively.
        number = getattr(errno, errno_name or "", errno.EIO)
        if filename is None:
            return OSError(number, message)
        return OSError(number, message, filename)
    cls = BridgeTimeout if kind in ("connect_timeout", "read_timeout") else BridgeError
    return cls(kind, message, errno_name, detail)


def entry(request, missing):
    """The reply meta of ``request()`` (a ``call``), or ``KeyError(missing)`` when the host
    has no such entry: how ``pwd`` and ``grp`` report an unknown user or group."""
    try:
        return request()[0]
    except BridgeError as exc:
        if exc.kind == "not_found":
            raise KeyError(missing) from None
        raise


def open_channel():
    """A new channel of its own (a socket's descriptor, say)."""
    try:
        return os.open(GUEST_DIR, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        import errno

        if exc.errno == errno.EMFILE:  # the venv's channel limit, as RLIMIT_NOFILE natively
            raise OSError(errno.EMFILE, "Too many open files (`wasipy-channels` in pyvenv.cfg)") from None
        raise error(
            "unavailable",
            f"the wasipy host bridge is not available ({exc.strerror or exc}); "
            "run this python from a wasipy venv",
        ) from None


def _channel():
    global _fd
    if _fd is None:
        _fd = open_channel()
    return _fd


# One encoder, built once: json.dumps with options builds a new encoder per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
# A reply is read with one call when it fits (the host has queued all of it).
_FIRST_READ = 1 << 16


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd, n):
    data = os.read(fd, n)  # the host has queued the whole reply: usually one call
    while len(data) < n:
        more = os.read(fd, n - len(data))
        if not more:
            raise error("protocol", "the host bridge closed the reply early")
        data += more
    return data


def call(op, meta=None, body=b"", filename=None, fd=None):
    """Sends request ``op`` and returns the reply's ``(meta, body)``; raises BridgeError
    for an error reply (an OSError naming ``filename`` for a failed file operation).
    ``fd`` is the channel to use (a socket's); the shared one by default."""
    request = {"op": op}
    if meta:
        request.update(meta)
    meta_bytes = _encode(request).encode()
    if fd is None:
        fd = _fd if _fd is not None else _channel()
    header = _HEADER.pack(MAGIC, VERSION, REQUEST, 0, len(meta_bytes), len(body))
    if len(body) <= _FIRST_READ:
        _write_all(fd, header + meta_bytes + body)
    else:
        _write_all(fd, header + meta_bytes)
        _write_all(fd, body)
    reply = os.read(fd, _FIRST_READ)
    if len(reply) < _HEADER.size:
        raise error("protocol", "the host bridge sent no reply")
    magic, version, kind, _, meta_len, body_len = _HEADER.unpack_from(reply)
    if magic != MAGIC or version != VERSION:
        raise error("protocol", "the host bridge sent a malformed reply")
    start = _HEADER.size + meta_len
    if len(reply) < start:
        reply += _read_exact(fd, start - len(reply))
    answer = json.loads(reply[_HEADER.size : start]) if meta_len else {}
    missing = start + body_len - len(reply)
    if missing <= 0:
        data = reply[start:]
    elif len(reply) == start:
        data = _read_exact(fd, missing)  # a large body: no copy of what was read
    else:
        data = reply[start:] + _read_exact(fd, missing)
    if kind == ERROR:
        raise error(
            answer.get("kind", "error"),
            answer.get("message", "bridge error"),
            answer.get("errno"),
            filename,
            answer.get("detail"),
        )
    return answer, data
