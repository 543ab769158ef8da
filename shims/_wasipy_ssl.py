"""The guest's ``ssl``: CPython's API, with TLS done by the host (rustls) through the bridge.

WASI has no OpenSSL, so ``import ssl`` gets this module (see ``_wasipy_shim``). Contexts
keep their settings here and send them with each connection; the handshake, encryption
and certificate checks happen in the launcher, which trusts the system store plus
``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE`` and ``PIP_CERT`` for ``load_default_certs``.
Sockets (``SSLSocket``) and memory buffers (``SSLObject`` with ``MemoryBIO``, which asyncio
uses) live in ``_wasipy_tls``. TLS 1.2 and 1.3 only, as rustls; ciphers are rustls's.
``OPENSSL_VERSION`` starts with "OpenSSL " because libraries refuse or warn otherwise.
"""

import base64 as _base64
import enum as _enum
import os as _os
import warnings as _warnings
from collections import namedtuple as _namedtuple
from socket import SOCK_STREAM, create_connection, socket  # noqa: F401  (ssl exports them)

OPENSSL_VERSION = "OpenSSL 3.0.0 compatible (rustls, TLS by the wasipy host)"
OPENSSL_VERSION_INFO = (3, 0, 0, 0, 0)
OPENSSL_VERSION_NUMBER = 0x30000000
_OPENSSL_API_VERSION = OPENSSL_VERSION_INFO
_DEFAULT_CIPHERS = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES"
HAS_SNI = HAS_ALPN = HAS_ECDH = HAS_TLSv1_2 = HAS_TLSv1_3 = HAS_NEVER_CHECK_COMMON_NAME = True
HAS_NPN = HAS_SSLv2 = HAS_SSLv3 = HAS_TLSv1 = HAS_TLSv1_1 = HAS_PSK = False
CHANNEL_BINDING_TYPES = []
socket_error = OSError


class _SSLMethod(_enum.IntEnum):
    PROTOCOL_TLS = 2
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17


PROTOCOL_SSLv23 = PROTOCOL_TLS = _SSLMethod.PROTOCOL_TLS
PROTOCOL_TLS_CLIENT = _SSLMethod.PROTOCOL_TLS_CLIENT
PROTOCOL_TLS_SERVER = _SSLMethod.PROTOCOL_TLS_SERVER


class VerifyMode(_enum.IntEnum):
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2


CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED = VerifyMode


class VerifyFlags(_enum.IntFlag):
    VERIFY_DEFAULT = 0
    VERIFY_CRL_CHECK_LEAF = 0x4
    VERIFY_CRL_CHECK_CHAIN = 0xC
    VERIFY_X509_STRICT = 0x20
    VERIFY_ALLOW_PROXY_CERTS = 0x40
    VERIFY_X509_TRUSTED_FIRST = 0x8000
    VERIFY_X509_PARTIAL_CHAIN = 0x80000


globals().update(VerifyFlags.__members__)


class Options(_enum.IntFlag):
    OP_ALL = 0x80000050
    OP_NO_SSLv2 = 0
    OP_NO_SSLv3 = 0x2000000
    OP_NO_TLSv1 = 0x4000000
    OP_NO_TLSv1_1 = 0x10000000
    OP_NO_TLSv1_2 = 0x8000000
    OP_NO_TLSv1_3 = 0x20000000
    OP_NO_COMPRESSION = 0x20000
    OP_NO_TICKET = 0x4000
    OP_CIPHER_SERVER_PREFERENCE = 0x400000
    OP_SINGLE_DH_USE = 0
    OP_SINGLE_ECDH_USE = 0
    OP_NO_RENEGOTIATION = 0x40000000
    OP_ENABLE_MIDDLEBOX_COMPAT = 0x100000
    OP_IGNORE_UNEXPECTED_EOF = 0x80
    OP_LEGACY_SERVER_CONNECT = 0x4
    OP_ENABLE_KTLS = 0x8


globals().update(Options.__members__)


class TLSVersion(_enum.IntEnum):
    MINIMUM_SUPPORTED = -2
    MAXIMUM_SUPPORTED = -1
    SSLv3 = 0x300
    TLSv1 = 0x301
    TLSv1_1 = 0x302
    TLSv1_2 = 0x303
    TLSv1_3 = 0x304


class SSLErrorNumber(_enum.IntEnum):
    SSL_ERROR_SSL = 1
    SSL_ERROR_WANT_READ = 2
    SSL_ERROR_WANT_WRITE = 3
    SSL_ERROR_WANT_X509_LOOKUP = 4
    SSL_ERROR_SYSCALL = 5
    SSL_ERROR_ZERO_RETURN = 6
    SSL_ERROR_WANT_CONNECT = 7
    SSL_ERROR_EOF = 8
    SSL_ERROR_INVALID_ERROR_CODE = 10


globals().update(SSLErrorNumber.__members__)


class AlertDescription(_enum.IntEnum):
    ALERT_DESCRIPTION_CLOSE_NOTIFY = 0
    ALERT_DESCRIPTION_UNEXPECTED_MESSAGE = 10
    ALERT_DESCRIPTION_BAD_RECORD_MAC = 20
    ALERT_DESCRIPTION_HANDSHAKE_FAILURE = 40
    ALERT_DESCRIPTION_BAD_CERTIFICATE = 42
    ALERT_DESCRIPTION_CERTIFICATE_EXPIRED = 45
    ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN = 46
    ALERT_DESCRIPTION_ILLEGAL_PARAMETER = 47
    ALERT_DESCRIPTION_UNKNOWN_CA = 48
    ALERT_DESCRIPTION_ACCESS_DENIED = 49
    ALERT_DESCRIPTION_DECODE_ERROR = 50
    ALERT_DESCRIPTION_DECRYPT_ERROR = 51
    ALERT_DESCRIPTION_PROTOCOL_VERSION = 70
    ALERT_DESCRIPTION_INTERNAL_ERROR = 80
    ALERT_DESCRIPTION_UNRECOGNIZED_NAME = 112


globals().update(AlertDescription.__members__)


class SSLError(OSError):
    """An error from the TLS layer: ``library`` and ``reason`` as OpenSSL names them."""

    library = None
    reason = None

    def __str__(self):
        return self.strerror if isinstance(self.strerror, str) else super().__str__()


class SSLZeroReturnError(SSLError):
    """The peer closed the TLS session cleanly."""


class SSLWantReadError(SSLError):
    """The operation needs more data from the peer (non-blocking sockets, memory BIOs)."""


class SSLWantWriteError(SSLError):
    """The operation needs room to send (non-blocking sockets)."""


class SSLSyscallError(SSLError):
    """The transport failed under the TLS layer."""


class SSLEOFError(SSLError):
    """The transport ended without a TLS close."""


class SSLCertVerificationError(SSLError, ValueError):
    """The peer's certificate did not verify: ``verify_code`` and ``verify_message`` say
    why, as OpenSSL's verify result does."""

    verify_code = None
    verify_message = None


CertificateError = SSLCertVerificationError


class SSLSession:
    """Sessions are not resumed across connections (rustls keeps its own cache)."""


_ASN1Object = _namedtuple("_ASN1Object", "nid shortname longname oid")


class Purpose(_ASN1Object, _enum.Enum):
    """What a context's certificates are for."""

    SERVER_AUTH = (129, "serverAuth", "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.1")
    CLIENT_AUTH = (130, "clientAuth", "TLS Web Client Authentication", "1.3.6.1.5.5.7.3.2")


DefaultVerifyPaths = _namedtuple(
    "DefaultVerifyPaths",
    "cafile capath openssl_cafile_env openssl_cafile openssl_capath_env openssl_capath",
)

_PEM_HEADER = "-----BEGIN CERTIFICATE-----"
_PEM_FOOTER = "-----END CERTIFICATE-----"


def DER_cert_to_PEM_cert(der_cert_bytes):
    """A DER certificate as PEM text."""
    text = _base64.standard_b64encode(der_cert_bytes).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return _PEM_HEADER + "\n" + "\n".join(lines) + "\n" + _PEM_FOOTER + "\n"


def PEM_cert_to_DER_cert(pem_cert_string):
    """A PEM certificate's DER bytes."""
    if not pem_cert_string.startswith(_PEM_HEADER):
        raise ValueError(f"Invalid PEM encoding; must start with {_PEM_HEADER}")
    if not pem_cert_string.strip().endswith(_PEM_FOOTER):
        raise ValueError(f"Invalid PEM encoding; must end with {_PEM_FOOTER}")
    body = pem_cert_string.strip()[len(_PEM_HEADER) : -len(_PEM_FOOTER)]
    return _base64.decodebytes(body.encode("ASCII", "strict"))


def _ssl_error(cls, number, reason, message):
    exc = cls(number, f"[SSL: {reason}] {message} (_ssl.c:1000)")
    exc.library, exc.reason = "SSL", reason
    return exc


def _read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("ascii", "replace")


class SSLContext:
    """TLS settings shared by connections; the host builds (and caches) its rustls
    configuration from them."""

    sslsocket_class = None  # set by _wasipy_tls
    sslobject_class = None

    def __init__(self, protocol=None, *args, **kwargs):
        if protocol is None:
            _warnings.warn("ssl.SSLContext() without protocol argument is deprecated.",
                           DeprecationWarning, stacklevel=2)
            protocol = PROTOCOL_TLS
        self.protocol = _SSLMethod(protocol)
        client = self.protocol == PROTOCOL_TLS_CLIENT
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._check_hostname = client
        self.options = Options.OP_ALL | OP_NO_SSLv3 | OP_NO_COMPRESSION | OP_CIPHER_SERVER_PREFERENCE
        self.verify_flags = VERIFY_X509_TRUSTED_FIRST
        self.minimum_version = TLSVersion.MINIMUM_SUPPORTED
        self.maximum_version = TLSVersion.MAXIMUM_SUPPORTED
        self.hostname_checks_common_name = False
        self.post_handshake_auth = False
        self.keylog_filename = None
        self.sni_callback = None
        self.security_level = 2
        self.num_tickets = 2
        self._cadata, self._default_certs = [], False
        self._chain = self._key = None
        self._alpn = []

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        value = VerifyMode(value)
        if value == CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        self._verify_mode = value

    @property
    def check_hostname(self):
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        value = bool(value)
        if value and self._verify_mode == CERT_NONE:
            self._verify_mode = CERT_REQUIRED
        self._check_hostname = value

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        found = []
        if cafile is not None:
            found.append(_read_text(_os.fspath(cafile)))
        if capath is not None:
            for name in sorted(_os.listdir(capath)):
                path = _os.path.join(_os.fspath(capath), name)
                if _os.path.isfile(path):
                    found.append(_read_text(path))
        if cadata is not None:
            found.append(cadata if isinstance(cadata, str) else _der_chain_to_pem(bytes(cadata)))
        found = [text for text in found if _PEM_HEADER in text]
        if not found:
            raise _ssl_error(SSLError, 0, "NO_CERTIFICATE_OR_CRL_FOUND", "no certificate or crl found")
        self._cadata.extend(found)

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        if not isinstance(purpose, _ASN1Object):
            raise TypeError(purpose)
        self._default_certs = True

    def set_default_verify_paths(self):
        self._default_certs = True

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        chain = _read_text(_os.fspath(certfile))
        key = _read_text(_os.fspath(keyfile)) if keyfile is not None else chain
        if _PEM_HEADER not in chain or "PRIVATE KEY-----" not in key:
            raise _ssl_error(SSLError, 9, "PEM_LIB", "PEM lib")
        if "ENCRYPTED" in key:
            raise _ssl_error(SSLError, 9, "PEM_LIB", "encrypted private keys are not supported by wasipy's TLS")
        self._chain, self._key = chain, key

    def set_alpn_protocols(self, alpn_protocols):
        protocols = []
        for protocol in alpn_protocols:
            if not 0 < len(protocol.encode("ascii")) <= 255:
                raise ValueError("ALPN protocols must be 1 to 255 in length")
            protocols.append(protocol)
        self._alpn = protocols

    def set_npn_protocols(self, npn_protocols):
        raise NotImplementedError("The NPN extension requires OpenSSL 1.0.1 or later.")

    def set_ciphers(self, ciphers):
        if not ciphers:
            raise _ssl_error(SSLError, 1, "NO_CIPHER_MATCH", "No cipher can be selected.")

    def get_ciphers(self):
        names = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                 "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256")
        return [{"name": n, "protocol": "TLSv1.3" if n.startswith("TLS_") else "TLSv1.2",
                 "alg_bits": 128 if "128" in n else 256} for n in names]

    def set_ecdh_curve(self, name):
        pass

    def set_servername_callback(self, server_name_callback):
        self.sni_callback = server_name_callback

    def load_dh_params(self, path):
        pass

    def cert_store_stats(self):
        count = sum(text.count(_PEM_HEADER) for text in self._cadata)
        return {"x509": count, "crl": 0, "x509_ca": count}

    def get_ca_certs(self, binary_form=False):
        import re

        blocks = re.findall(f"{_PEM_HEADER}.*?{_PEM_FOOTER}", "\n".join(self._cadata), re.S)
        return [PEM_cert_to_DER_cert(b) for b in blocks] if binary_form else []

    def session_stats(self):
        return dict.fromkeys(("number", "connect", "connect_good", "connect_renegotiate",
                              "accept", "accept_good", "accept_renegotiate", "hits", "misses",
                              "timeouts", "cache_full"), 0)

    def _settings(self):
        """What the host needs to build this context's configuration."""
        minimum, maximum = int(self.minimum_version), int(self.maximum_version)
        if self.options & OP_NO_TLSv1_2:
            minimum = max(minimum, TLSVersion.TLSv1_3)
        if self.options & OP_NO_TLSv1_3:
            maximum = TLSVersion.TLSv1_2 if maximum < 0 else min(maximum, TLSVersion.TLSv1_2)
        return {"verify_mode": int(self._verify_mode), "check_hostname": self._check_hostname,
                "cadata": self._cadata, "default_certs": self._default_certs,
                "chain": self._chain, "key": self._key, "alpn": self._alpn,
                "min": minimum, "max": maximum}

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        return self.sslsocket_class._create(
            sock=sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
            context=self, session=session)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        return self.sslobject_class._create(
            incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
            session=session, context=self)


def _der_chain_to_pem(data):
    """Concatenated DER certificates (``cadata`` as bytes) as PEM text."""
    pems = []
    while data:
        if len(data) < 4 or data[0] != 0x30:
            raise _ssl_error(SSLError, 0, "NOT_ENOUGH_DATA", "not enough data")
        length, start = data[1], 2
        if length & 0x80:
            size = length & 0x7F
            length, start = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
        pems.append(DER_cert_to_PEM_cert(data[: start + length]))
        data = data[start + length :]
    return "".join(pems)


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None):
    """A client (or, for ``CLIENT_AUTH``, server) context with CPython's defaults."""
    if not isinstance(purpose, _ASN1Object):
        raise TypeError(purpose)
    protocol = PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER
    context = SSLContext(protocol)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    return context


def _create_unverified_context(protocol=None, *, cert_reqs=CERT_NONE, check_hostname=False,
                               purpose=Purpose.SERVER_AUTH, certfile=None, keyfile=None,
                               cafile=None, capath=None, cadata=None):
    if protocol is None:
        protocol = PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER
    context = SSLContext(protocol)
    context.check_hostname = check_hostname
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context


def get_default_verify_paths():
    cafile = _os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    capath = _os.environ.get("SSL_CERT_DIR", "/etc/ssl/certs")
    return DefaultVerifyPaths(cafile if _os.path.isfile(cafile) else None,
                              capath if _os.path.isdir(capath) else None,
                              "SSL_CERT_FILE", "/usr/lib/ssl/cert.pem", "SSL_CERT_DIR", "/usr/lib/ssl/certs")


def cert_time_to_seconds(cert_time):
    """``notBefore``/``notAfter`` text (``May  9 00:00:00 2007 GMT``) as seconds since the epoch."""
    from calendar import timegm
    from time import strptime

    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    try:
        month = months.index(cert_time[:3].title()) + 1
    except ValueError:
        raise ValueError(f'time data {cert_time!r} does not match format "%b %d %H:%M:%S %Y GMT"') from None
    tt = strptime(cert_time[3:], " %d %H:%M:%S %Y GMT")
    return timegm((tt[0], month) + tt[2:6])


def get_server_certificate(addr, ssl_version=PROTOCOL_TLS_CLIENT, ca_certs=None, timeout=60):
    """The server's certificate, PEM; verified only if ``ca_certs`` is given."""
    host, port = addr
    cert_reqs = CERT_REQUIRED if ca_certs is not None else CERT_NONE
    context = _create_unverified_context(ssl_version, cert_reqs=cert_reqs, cafile=ca_certs)
    with create_connection(addr, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as sslsock:
            return DER_cert_to_PEM_cert(sslsock.getpeercert(True))


def RAND_bytes(n):
    return _os.urandom(n)


def RAND_status():
    return True


def RAND_add(string, entropy):
    return None


def _load_tls():
    """``_wasipy_tls``, loaded from beside the shims (``sys.path`` may not list them)."""
    import sys

    return sys.modules["_wasipy_shim"]._load("_wasipy_tls")


_tls = _load_tls()
MemoryBIO, SSLObject, SSLSocket = _tls.MemoryBIO, _tls.SSLObject, _tls.SSLSocket

SSLContext.sslsocket_class = SSLSocket
SSLContext.sslobject_class = SSLObject
