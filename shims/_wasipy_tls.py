"""TLS connections of the guest's ``ssl`` (``_wasipy_ssl``): ``SSLSocket`` over a guest
socket, whose bytes the host reads and writes itself, and ``SSLObject`` over ``MemoryBIO``
buffers, whose bytes pass through the guest (asyncio's TLS transport uses these).
"""

import errno as _errno
import socket as _socket
import sys as _sys

import _wasipy_bridge as _bridge


def _ssl():
    """The ``ssl`` module (this module is loaded while it is being made)."""
    return _sys.modules["ssl"]


_CLASSES = {
    "ssl_verify": "SSLCertVerificationError",
    "ssl_eof": "SSLEOFError",
    "ssl_zero_return": "SSLZeroReturnError",
    "ssl_want_read": "SSLWantReadError",
    "ssl_want_write": "SSLWantWriteError",
}
_NUMBERS = {"ssl_verify": 1, "ssl_eof": 8, "ssl_zero_return": 6, "ssl_want_read": 2, "ssl_want_write": 3}
_TIMEOUTS = {"read": "The read operation timed out", "write": "The write operation timed out",
             "handshake": "_ssl.c:983: The handshake operation timed out", "shutdown": "The read operation timed out"}


def _exception(kind, message, reason=None, detail=None, action=None):
    """The exception CPython raises for a failed TLS operation."""
    ssl = _ssl()
    if kind == "timeout":
        return TimeoutError(_TIMEOUTS.get(action, "timed out"))
    if kind == "os":
        return _bridge.error(kind, message, reason)
    cls = getattr(ssl, _CLASSES.get(kind, "SSLError"))
    exc = cls(_NUMBERS.get(kind, 1), message)
    exc.library, exc.reason = "SSL", reason
    if detail:
        exc.verify_code, exc.verify_message = detail.get("code"), detail.get("message")
    return exc


def _raise(exc, action):
    if isinstance(exc, _bridge.BridgeError):
        raise _exception(exc.kind, str(exc), exc.name, exc.detail, action) from None
    raise exc


def _tuples(value):
    """getpeercert()'s lists (JSON has no tuples) as CPython's tuples."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _check_hostname(context, server_side, server_hostname):
    if server_side:
        if server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        return None
    if context.check_hostname and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")
    if server_hostname is None:
        return None
    if isinstance(server_hostname, bytes):
        server_hostname = server_hostname.decode("ascii")
    if not server_hostname or server_hostname.startswith("."):
        raise ValueError("server_hostname cannot be an empty string or start with a leading dot.")
    return server_hostname if server_hostname.isascii() else server_hostname.encode("idna").decode()


class _Info:
    """What both connection kinds report from the host's session."""

    def _info(self):
        raise NotImplementedError

    def getpeercert(self, binary_form=False):
        info, der = self._info()
        if info.get("handshaking"):
            raise ValueError("handshake not done yet")
        if binary_form:
            return der or None
        return _tuples(info.get("cert") or {}) if info.get("has_cert") else None

    def cipher(self):
        cipher = self._info()[0].get("cipher")
        return tuple(cipher) if cipher else None

    def version(self):
        return self._info()[0].get("version")

    def selected_alpn_protocol(self):
        return self._info()[0].get("alpn")

    def selected_npn_protocol(self):
        return None

    def shared_ciphers(self):
        cipher = self.cipher()
        return [cipher] if cipher else None

    def compression(self):
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        raise ValueError(f"{cb_type} channel binding type not implemented")

    def verify_client_post_handshake(self):
        raise NotImplementedError("post-handshake authentication is not available in wasipy's TLS")

    def get_verified_chain(self):
        der = self.getpeercert(True)
        return [der] if der else []

    get_unverified_chain = get_verified_chain

    session = None
    session_reused = False


class MemoryBIO:
    """A buffer of TLS bytes between an ``SSLObject`` and its transport."""

    def __init__(self):
        self._data = bytearray()
        self._eof = False

    @property
    def pending(self):
        return len(self._data)

    @property
    def eof(self):
        return self._eof and not self._data

    def read(self, size=-1):
        size = len(self._data) if size < 0 else size
        data = bytes(self._data[:size])
        del self._data[:size]
        return data

    def write(self, b):
        if self._eof:
            raise _ssl().SSLError("cannot write() after write_eof()")
        data = memoryview(b).cast("B")
        self._data += data
        return len(data)

    def write_eof(self):
        self._eof = True

    def _unread(self, data):
        self._data[:0] = data


class SSLObject(_Info):
    """TLS over two ``MemoryBIO`` buffers; the host holds the session."""

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{self.__class__.__name__} does not have a public constructor. "
                        "Instances are returned by SSLContext.wrap_bio().")

    @classmethod
    def _create(cls, incoming, outgoing, server_side=False, server_hostname=None, session=None, context=None):
        self = cls.__new__(cls)
        self._id = None
        hostname = _check_hostname(context, server_side, server_hostname)
        meta = {"bio": True, "context": context._settings(), "server_side": server_side, "hostname": hostname}
        try:
            self._id = _bridge.call("tls.wrap", meta)[0]["id"]
        except _bridge.BridgeError as exc:
            _raise(exc, "wrap")
        self._incoming, self._outgoing, self._context = incoming, outgoing, context
        self.server_side, self.server_hostname = server_side, hostname
        self._pending = 0
        return self

    def __del__(self):
        if getattr(self, "_id", None) is not None:
            try:
                _bridge.call("tls.free", {"bio": True, "id": self._id})
            except Exception:
                pass

    @property
    def context(self):
        return self._context

    def _step(self, action, n=0, payload=b""):
        incoming = self._incoming.read()
        meta = {"bio": True, "id": self._id, "action": action, "n": n,
                "incoming": len(incoming), "eof": self._incoming._eof}
        reply, body = _bridge.call("tls.io", meta, incoming + payload)
        self._incoming._unread(incoming[reply["used"]:])
        data, outgoing = body[: reply["data"]], body[reply["data"]:]
        if outgoing:
            self._outgoing.write(outgoing)
        self._pending = reply["pending"]
        error = reply.get("error")
        if error:
            if error["kind"] == "ssl_zero_return" and action == "read":
                return b"", 0  # a clean close reads as the end, as natively
            raise _exception(error["kind"], error["message"], error.get("errno"), error.get("detail"), action)
        return data, reply["n"]

    def _info(self):
        return _bridge.call("tls.info", {"bio": True, "id": self._id})

    def do_handshake(self):
        self._step("handshake")

    def read(self, len=1024, buffer=None):
        if buffer is None:
            return self._step("read", len)[0]
        view = memoryview(buffer).cast("B")
        data = self._step("read", len or view.nbytes)[0]
        view[: data.__len__()] = data
        return data.__len__()

    def write(self, data):
        return self._step("write", 0, bytes(data))[1]

    def pending(self):
        return self._pending

    def unwrap(self):
        self._step("shutdown")


class SSLSocket(_socket.socket, _Info):
    """A socket whose TLS session the host runs over the host socket itself, blocking as
    this socket's timeout says."""

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{self.__class__.__name__} does not have a public constructor. "
                        "Instances are returned by SSLContext.wrap_socket().")

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True, suppress_ragged_eofs=True,
                server_hostname=None, context=None, session=None):
        if sock.type != _socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        hostname = _check_hostname(context, server_side, server_hostname)
        kwargs = {"family": sock.family, "type": sock.type, "proto": sock.proto, "fileno": sock.fileno()}
        self = cls.__new__(cls, **kwargs)
        _socket.socket.__init__(self, **kwargs)
        timeout = sock.gettimeout()
        sock.detach()
        self.settimeout(timeout)
        self._context, self.server_side, self.server_hostname = context, server_side, hostname
        self.do_handshake_on_connect, self.suppress_ragged_eofs = do_handshake_on_connect, suppress_ragged_eofs
        self._wrapped = False
        try:
            self.getpeername()
        except OSError as exc:
            if exc.errno != _errno.ENOTCONN:
                raise
            return self
        self._wrap()
        return self

    @property
    def _sslobj(self):
        """CPython's TLS state object, which libraries read (httpcore asks it for ALPN):
        here the socket itself, once wrapped."""
        return self if self._wrapped else None

    @property
    def context(self):
        return self._context

    @context.setter
    def context(self, context):
        self._context = context

    def _wrap(self):
        meta = {"context": self._context._settings(), "server_side": self.server_side,
                "hostname": self.server_hostname}
        self._call("tls.wrap", meta, action="wrap")
        self._wrapped = True
        if self.do_handshake_on_connect:
            if self.gettimeout() == 0.0:
                raise ValueError("do_handshake_on_connect should not be specified for non-blocking sockets")
            self.do_handshake()

    def _call(self, op, meta, body=b"", action=None):
        try:
            return _bridge.call(op, meta, body, fd=self.fileno())
        except _bridge.BridgeError as exc:
            _raise(exc, action)

    def _io(self, action, n=0, payload=b""):
        if not self._wrapped:
            raise ValueError("Read on closed or unwrapped SSL socket." if action == "read"
                             else "Write on closed or unwrapped SSL socket.")
        meta = {"action": action, "n": n, "timeout": self.gettimeout()}
        return self._call("tls.io", meta, payload, action)

    def _info(self):
        return self._call("tls.info", {})

    def do_handshake(self, block=False):
        self._io("handshake")

    def read(self, len=1024, buffer=None):
        try:
            data = self._io("read", len if buffer is None or len else memoryview(buffer).nbytes)[1]
        except _ssl().SSLError as exc:
            if not (isinstance(exc, (_ssl().SSLEOFError, _ssl().SSLZeroReturnError))
                    and (self.suppress_ragged_eofs or isinstance(exc, _ssl().SSLZeroReturnError))):
                raise
            data = b""
        if buffer is None:
            return data
        view = memoryview(buffer).cast("B")
        view[: memoryview(data).nbytes] = data
        return memoryview(data).nbytes

    def write(self, data):
        return self._io("write", 0, bytes(data))[0]["n"]

    def pending(self):
        return self._info()[0].get("pending", 0) if self._wrapped else 0

    def recv(self, buflen=1024, flags=0):
        if not self._wrapped:
            return super().recv(buflen, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to recv() on SSLSocket")
        return self.read(buflen)

    def recv_into(self, buffer, nbytes=None, flags=0):
        if not self._wrapped:
            return super().recv_into(buffer, nbytes or 0, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to recv_into() on SSLSocket")
        return self.read(nbytes or memoryview(buffer).nbytes, buffer)

    def send(self, data, flags=0):
        if not self._wrapped:
            return super().send(data, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to send() on SSLSocket")
        return self.write(data)

    def sendall(self, data, flags=0):
        if not self._wrapped:
            return super().sendall(data, flags)
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags):]

    def sendto(self, data, flags_or_addr, addr=None):
        raise ValueError("sendto not allowed on instances of SSLSocket")

    def recvfrom(self, buflen=1024, flags=0):
        raise ValueError("recvfrom not allowed on instances of SSLSocket")

    def recvfrom_into(self, buffer, nbytes=None, flags=0):
        raise ValueError("recvfrom_into not allowed on instances of SSLSocket")

    def connect(self, addr):
        super().connect(addr)
        self._wrap()

    def connect_ex(self, addr):
        result = super().connect_ex(addr)
        if result == 0:
            self._wrap()
        return result

    def accept(self):
        sock, addr = super().accept()
        wrapped = self._context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=self.do_handshake_on_connect,
                                            suppress_ragged_eofs=self.suppress_ragged_eofs)
        return wrapped, addr

    def unwrap(self):
        self._io("shutdown", payload=b"")
        self._call("tls.io", {"action": "drop"})
        self._wrapped = False
        return _socket.socket(self.family, self.type, self.proto, fileno=self.detach())

    def dup(self):
        raise NotImplementedError(f"Can't dup() {self.__class__.__name__} instances")
