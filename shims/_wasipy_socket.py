"""The guest's ``_socket``: sockets backed by host sockets through the wasipy bridge.

WASI preview 1 has no way to open a socket, so ``import _socket`` gets this module (see
``_wasipy_shim``) and the stdlib's ``socket``, ``selectors``, ``asyncio``, ``http.client``
and everything above them run unchanged on it. Each socket is a bridge channel, a real
descriptor: ``fileno()`` works with ``select`` and ``selectors``, because the launcher
answers ``poll_oneoff`` for it from the host socket. Constants have Linux's values, which
the host uses; errors are the ``OSError`` subclasses a native socket raises.
"""

import errno as _errno
import os as _os

import _wasipy_bridge as _bridge

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
SOL_SOCKET, SOMAXCONN = 1, 4096
SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_BROADCAST = 1, 2, 3, 4, 6
SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE, SO_LINGER = 7, 8, 9, 10, 13
SO_REUSEPORT, SO_ACCEPTCONN = 15, 30
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6 = 0, 1, 6, 17, 41
IP_TTL, IP_MULTICAST_TTL, IP_MULTICAST_LOOP = 2, 33, 34
IPV6_V6ONLY = 26
TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT = 1, 2, 4, 5, 6
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
MSG_OOB, MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL = 1, 2, 0x40, 0x100, 0x4000
AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_V4MAPPED = 1, 2, 4, 8
AI_ALL, AI_ADDRCONFIG, AI_NUMERICSERV = 0x10, 0x20, 0x400
NI_NUMERICHOST, NI_NUMERICSERV, NI_NOFQDN, NI_NAMEREQD, NI_DGRAM = 1, 2, 4, 8, 16
NI_MAXHOST, NI_MAXSERV = 1025, 32
EAI_BADFLAGS, EAI_NONAME, EAI_AGAIN, EAI_FAIL = -1, -2, -3, -4
EAI_FAMILY, EAI_SOCKTYPE, EAI_SERVICE, EAI_MEMORY = -6, -7, -8, -10
EAI_SYSTEM, EAI_OVERFLOW, EAI_NODATA = -11, -12, -5
INADDR_ANY, INADDR_BROADCAST, INADDR_LOOPBACK, INADDR_NONE = 0, 0xFFFFFFFF, 0x7F000001, 0xFFFFFFFF
has_ipv6 = True

error = OSError
timeout = TimeoutError


class herror(OSError):
    """A failed address lookup (``gethostbyaddr``)."""


class gaierror(OSError):
    """A failed ``getaddrinfo``/``getnameinfo``."""


_default_timeout = None
_PROTOCOLS = {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "ipv6": 41}


def _raise(exc):
    """Turns a bridge failure into what a native socket raises."""
    if exc.kind == "timeout":
        raise TimeoutError("timed out") from None
    if exc.kind == "gai":
        code = globals().get(exc.name or "", EAI_NONAME)
        raise gaierror(code, str(exc)) from None
    raise exc


def _call(fd, op, meta=None, body=b""):
    try:
        return _bridge.call(op, meta, body, fd=fd)
    except _bridge.BridgeError as exc:
        _raise(exc)


def getdefaulttimeout():
    return _default_timeout


def setdefaulttimeout(value):
    global _default_timeout
    _default_timeout = _check_timeout(value)


def _check_timeout(value):
    if value is None:
        return None
    value = float(value)
    if value < 0 or value != value:
        raise ValueError("Timeout value out of range")
    return value


class socket:
    """A socket whose descriptor is a bridge channel and whose I/O is the host's."""

    __slots__ = ("_fd", "_family", "_type", "_proto", "_timeout")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None:
            family = AF_INET if family == -1 else int(family)
            type = SOCK_STREAM if type == -1 else int(type)
            proto = 0 if proto == -1 else int(proto)
            fd = _bridge.open_channel()
            try:
                _call(fd, "sock.open", {"family": family, "type": type, "proto": proto})
            except BaseException:
                _os.close(fd)
                raise
        else:
            fd = int(fileno)
            if -1 in (family, type, proto):
                info, _ = _call(fd, "sock.info")
                family = info["family"] if family == -1 else family
                type = info["type"] if type == -1 else type
                proto = info["proto"] if proto == -1 else proto
        self._fd, self._family, self._type, self._proto = fd, family, type, proto
        self._timeout = _default_timeout

    family = property(lambda self: self._family, doc="the socket family")
    type = property(lambda self: self._type, doc="the socket type")
    proto = property(lambda self: self._proto, doc="the socket protocol")
    timeout = property(lambda self: self._timeout, doc="the timeout in seconds, or None")

    def __del__(self):
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def __repr__(self):
        return f"<_socket.socket fd={self._fd}, family={self._family}, type={self._type}, proto={self._proto}>"

    def fileno(self):
        return self._fd

    def detach(self):
        fd, self._fd = self._fd, -1
        return fd

    def close(self):
        fd, self._fd = self._fd, -1
        if fd >= 0:
            _os.close(fd)

    def _live(self):
        if self._fd < 0:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        return self._fd

    def _do(self, op, meta=None, body=b""):
        return _call(self._live(), op, meta, body)

    def settimeout(self, value):
        self._timeout = _check_timeout(value)

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    def connect(self, address):
        self._do("sock.connect", {"addr": _sockaddr(self, address), "timeout": self._timeout})

    def connect_ex(self, address):
        try:
            self.connect(address)
        except TimeoutError:
            return _errno.EAGAIN
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    def bind(self, address):
        self._do("sock.bind", {"addr": _sockaddr(self, address, passive=True)})

    def listen(self, backlog=128):
        self._do("sock.listen", {"backlog": int(backlog)})

    def _accept(self):
        reply, _ = self._do("sock.accept", {"timeout": self._timeout})
        return _adopt(reply["pending"]), _address(reply["addr"])

    def send(self, data, flags=0):
        reply, _ = self._do("sock.send", {"flags": flags, "timeout": self._timeout}, bytes(data))
        return reply["n"]

    def sendall(self, data, flags=0):
        meta = {"flags": flags, "timeout": self._timeout, "all": True}
        self._do("sock.send", meta, bytes(data))

    def sendto(self, data, flags_or_address, address=None):
        flags, address = (0, flags_or_address) if address is None else (flags_or_address, address)
        meta = {"flags": flags, "timeout": self._timeout, "addr": _sockaddr(self, address)}
        reply, _ = self._do("sock.sendto", meta, bytes(data))
        return reply["n"]

    def recv(self, bufsize, flags=0):
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        _, data = self._do("sock.recv", {"n": bufsize, "flags": flags, "timeout": self._timeout})
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize, flags=0):
        meta = {"n": bufsize, "flags": flags, "timeout": self._timeout}
        reply, data = self._do("sock.recvfrom", meta)
        return data, _address(reply["addr"])

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        data, address = self.recvfrom(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data), address

    def shutdown(self, how):
        self._do("sock.shutdown", {"how": int(how)})

    def getsockname(self):
        return _address(self._do("sock.name")[0]["addr"])

    def getpeername(self):
        return _address(self._do("sock.peer")[0]["addr"])

    def setsockopt(self, level, optname, value, optlen=None):
        if value is None:
            meta, body = {"level": level, "name": optname}, bytes(optlen or 0)
        elif isinstance(value, int):
            meta, body = {"level": level, "name": optname, "value": int(value)}, b""
        else:
            meta, body = {"level": level, "name": optname}, bytes(value)
        self._do("sock.setsockopt", meta, body)

    def getsockopt(self, level, optname, buflen=None):
        meta = {"level": level, "name": optname}
        if buflen is not None:
            meta["buflen"] = buflen
        reply, data = self._do("sock.getsockopt", meta)
        if (level, optname) == (SOL_SOCKET, SO_ERROR):
            # The host's errno, by name: the guest's numbers are WASI's.
            name = reply.get("errno")
            return getattr(_errno, name, _errno.EIO) if name else 0
        return data if buflen is not None else reply["value"]


SocketType = socket


def _address(value):
    """A socket address from the host: a tuple, or ``''`` for an unnamed one."""
    return tuple(value) if isinstance(value, list) else (value or "")


def _sockaddr(sock, address, passive=False):
    """The host's ``[ip, port, ...]`` for ``address``, resolving a host name as
    CPython's socket methods do (through ``getaddrinfo``)."""
    family = sock.family
    if family not in (AF_INET, AF_INET6):
        raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by protocol")
    size = 2 if family == AF_INET else (2, 3, 4)
    if not isinstance(address, tuple) or len(address) not in ((size,) if family == AF_INET else size):
        want = "(host, port)" if family == AF_INET else "(host, port[, flowinfo[, scopeid]])"
        raise TypeError(f"{'AF_INET' if family == AF_INET else 'AF_INET6'} address must be a tuple {want}")
    host, port, *rest = address
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535.")
    return [_ip_of(host, family, passive), port, *rest]


def _ip_of(host, family, passive):
    if isinstance(host, (bytes, bytearray)):
        host = host.decode("idna")
    if not isinstance(host, str):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if host == "":
        return "0.0.0.0" if family == AF_INET else "::"
    if host == "<broadcast>":
        return "255.255.255.255"
    if _is_numeric(host, family):
        return host
    flags = AI_PASSIVE if passive else 0
    return getaddrinfo(host, None, family, SOCK_STREAM, 0, flags)[0][4][0]


def _is_numeric(host, family):
    try:
        inet_pton(family, host.split("%")[0])
        return True
    except OSError:
        return False


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if isinstance(host, (bytes, bytearray)):
        host = host.decode()
    elif isinstance(host, str):
        host = host.encode("idna").decode() if not host.isascii() else host
    if isinstance(port, (bytes, bytearray)):
        port = port.decode()
    elif port is not None and not isinstance(port, (int, str)):
        raise OSError("Int or String expected")
    meta = {"host": host, "port": port, "family": int(family), "type": int(type),
            "proto": int(proto), "flags": int(flags)}
    reply, _ = _call(None, "dns.getaddrinfo", meta)
    return [(f, t, p, canon, tuple(addr)) for f, t, p, canon, addr in reply["entries"]]


def gethostbyname(hostname):
    return getaddrinfo(hostname, None, AF_INET, SOCK_STREAM)[0][4][0]


def gethostbyname_ex(hostname):
    found = getaddrinfo(hostname, None, AF_INET, SOCK_STREAM, 0, AI_CANONNAME)
    canon = found[0][3] or hostname
    return canon, [], list(dict.fromkeys(entry[4][0] for entry in found))


def gethostbyaddr(ip_address):
    address = gethostbyname(ip_address) if not _is_numeric(ip_address, AF_INET) and not _is_numeric(ip_address, AF_INET6) else ip_address
    try:
        reply, _ = _call(None, "dns.getnameinfo", {"host": address, "port": 0, "flags": NI_NAMEREQD})
    except gaierror:
        raise herror(1, "Unknown host") from None
    return reply["host"], [], [address]


def getnameinfo(sockaddr, flags):
    if not isinstance(sockaddr, tuple) or len(sockaddr) < 2:
        raise TypeError("getnameinfo() argument 1 must be a tuple")
    host = sockaddr[0]
    if not (_is_numeric(host, AF_INET) or _is_numeric(host, AF_INET6)):
        host = getaddrinfo(host, None, 0, SOCK_DGRAM)[0][4][0]
    reply, _ = _call(None, "dns.getnameinfo", {"host": host, "port": sockaddr[1], "flags": flags})
    return reply["host"], reply["service"]


def gethostname():
    return _call(None, "dns.gethostname")[0]["name"]


def getservbyname(servicename, protocolname=None):
    kind = SOCK_DGRAM if protocolname == "udp" else SOCK_STREAM
    try:
        return getaddrinfo("127.0.0.1", servicename, AF_INET, kind)[0][4][1]
    except gaierror:
        raise OSError("service/proto not found") from None


def getservbyport(port, protocolname=None):
    if not 0 <= port <= 65535:
        raise OverflowError("getservbyport: port must be 0-65535.")
    flags = NI_DGRAM if protocolname == "udp" else 0
    service = getnameinfo(("127.0.0.1", port), NI_NUMERICHOST | flags)[1]
    if service == str(port):
        raise OSError("port/proto not found")
    return service


def getprotobyname(protocolname):
    try:
        return _PROTOCOLS[protocolname.lower()]
    except KeyError:
        raise OSError("protocol not found") from None


def socketpair(family=AF_UNIX, type=SOCK_STREAM, proto=0):
    if family != AF_UNIX or type != SOCK_STREAM:
        raise OSError(_errno.EOPNOTSUPP, "only AF_UNIX SOCK_STREAM pairs are available in WASI")
    a = _bridge.open_channel()
    try:
        reply, _ = _call(a, "sock.pair")
    except BaseException:
        _os.close(a)
        raise
    return socket(family, type, proto, a), socket(family, type, proto, _adopt(reply["pending"]))


def close(fd):
    _os.close(fd)


def dup(fd):
    return _adopt(_call(fd, "sock.dup")[0]["pending"])


def _adopt(pending):
    """A new descriptor for a socket the host made on another channel (an accepted
    connection, a pair's second end, a dup). Descriptor numbers cannot name it: a runtime
    may number the guest's descriptors differently from WASI's (wasi-vfs does)."""
    fd = _bridge.open_channel()
    try:
        _call(fd, "sock.adopt", {"pending": pending})
    except BaseException:
        _os.close(fd)
        raise
    return fd


def htons(x):
    return ((x & 0xFF) << 8) | ((x >> 8) & 0xFF)


def htonl(x):
    return int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big")


ntohs, ntohl = htons, htonl


def inet_aton(ip_string):
    parts = ip_string.split(".")
    try:
        numbers = [int(p, 0) for p in parts]
        if not 1 <= len(numbers) <= 4 or any(n < 0 for n in numbers):
            raise ValueError
        *head, last = numbers
        if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
            raise ValueError
        value = 0
        for n in head:
            value = value << 8 | n
        value = value << (8 * (5 - len(numbers))) | last
        return value.to_bytes(4, "big")
    except ValueError:
        raise OSError("illegal IP address string passed to inet_aton") from None


def inet_ntoa(packed_ip):
    if len(packed_ip) != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return ".".join(str(b) for b in bytes(packed_ip))


def inet_pton(address_family, ip_string):
    import ipaddress

    try:
        if address_family == AF_INET:
            return ipaddress.IPv4Address(ip_string).packed
        if address_family == AF_INET6:
            return ipaddress.IPv6Address(ip_string).packed
    except ValueError:
        raise OSError("illegal IP address string passed to inet_pton") from None
    raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by protocol")


def inet_ntop(address_family, packed_ip):
    import ipaddress

    if address_family == AF_INET:
        if len(packed_ip) != 4:
            raise ValueError("invalid length of packed IP address string")
        return str(ipaddress.IPv4Address(bytes(packed_ip)))
    if address_family == AF_INET6:
        if len(packed_ip) != 16:
            raise ValueError("invalid length of packed IP address string")
        return str(ipaddress.IPv6Address(bytes(packed_ip)))
    raise ValueError("unknown address family")
