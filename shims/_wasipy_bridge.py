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

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind

    def __str__(self):
        return self.args[0]


class BridgeTimeout(BridgeError, TimeoutError):
    """A timed-out operation (also a ``socket.timeout``, as HTTP libraries expect)."""


def error(kind, message, errno_name=None):
    if kind == "os":
        import errno

        # OSError(ENOENT, ...) becomes FileNotFoundError, and so on, as natively.
        return OSError(getattr(errno, errno_name or "", errno.EIO), message)
    cls = BridgeTimeout if kind in ("connect_timeout", "read_timeout") else BridgeError
    return cls(kind, message)


def _channel():
    global _fd
    if _fd is None:
        try:
            _fd = os.open(GUEST_DIR, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise error(
                "unavailable",
                f"the wasipy host bridge is not available ({exc.strerror or exc}); "
                "run this python from a wasipy venv",
            ) from None
    return _fd


def _write_all(fd, parts):
    for part in parts:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view):]


def _read_exact(fd, n):
    if n == 0:
        return b""
    data = os.read(fd, n)
    if len(data) == n:
        return data
    chunks = [data]
    got = len(data)
    while got < n:
        more = os.read(fd, n - got)
        if not more:
            raise error("protocol", "the host bridge closed the reply early")
        chunks.append(more)
        got += len(more)
    return b"".join(chunks)


def call(op, meta=None, body=b""):
    """Sends request ``op`` and returns the reply's ``(meta, body)``; raises BridgeError
    for an error reply."""
    request = dict(meta or (), op=op)
    meta_bytes = json.dumps(request, separators=(",", ":")).encode()
    fd = _channel()
    header = _HEADER.pack(MAGIC, VERSION, REQUEST, 0, len(meta_bytes), len(body))
    _write_all(fd, (header + meta_bytes, body))
    magic, version, kind, _, meta_len, body_len = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if magic != MAGIC or version != VERSION:
        raise error("protocol", "the host bridge sent a malformed reply")
    reply = json.loads(_read_exact(fd, meta_len)) if meta_len else {}
    data = _read_exact(fd, body_len)
    if kind == ERROR:
        raise error(
            reply.get("kind", "error"), reply.get("message", "bridge error"), reply.get("errno")
        )
    return reply, data
