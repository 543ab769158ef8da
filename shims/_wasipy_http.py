"""pip's HTTP(S), carried by the wasipy host bridge: a fast path kept for pip alone.

Guest code reaches the network through sockets and ``ssl`` (``_wasipy_socket``,
``_wasipy_ssl``) like any Python. pip keeps this request-level path because it measured
faster (one bridge call per request instead of a socket and TLS session per connection)
and because the host then checks the real target host against the venv's network setting
even when a proxy carries the request:

* ``pip._vendor.requests``: ``HTTPAdapter.send`` sends through the bridge, keeping
  requests' retries, redirects, caching and decoding;
* pip: TLS counts as available (its check looks for ``_ssl``), and truststore (which needs
  ``_ssl``) is left out quietly: the host verifies with the system store.

The host follows no redirects and decodes nothing, so each library keeps its own rules.
Failures surface as the exceptions those libraries raise for a real network error.
"""

import io
import logging
import sys

import _wasipy_bridge as bridge

_READ_SIZE = 1 << 20


def _message(pairs):
    from http.client import HTTPMessage

    msg = HTTPMessage()
    for name, value in pairs:
        msg[name] = value  # appends: repeated headers stay repeated
    return msg


class Response(io.BufferedIOBase):
    """An ``http.client.HTTPResponse`` look-alike whose body comes through the bridge in
    chunks, so a large download never sits in memory at once. Like http.client's, it
    closes itself when the body is exhausted."""

    def __init__(self, head, first):
        self.status = self.code = head["status"]
        self.reason = head["reason"]
        self.url = head["url"]
        self.version = 11
        self.headers = _message(head["headers"])
        self.msg = self.headers
        length = self.headers.get("content-length")
        self.length = int(length) if length and length.isdigit() else None
        self._stream = head.get("stream")
        self._buf = first
        self._pos = 0
        self.fp = self  # http.client sets ``fp`` to None once closed; cachecontrol checks it
        if self._stream is None and not first:
            self._finish()

    # -- the http.client surface -------------------------------------------------------
    def getcode(self):
        return self.status

    def geturl(self):
        return self.url

    def info(self):
        return self.headers

    def getheader(self, name, default=None):
        values = self.headers.get_all(name)
        return ", ".join(values) if values else default

    def getheaders(self):
        return list(self.headers.items())

    def isclosed(self):
        return self.fp is None

    def readable(self):
        return True

    # -- reading ---------------------------------------------------------------------
    def _fill(self, size):
        """Fetches the next chunk; returns False at the end of the body."""
        if self._stream is None:
            return False
        meta, self._buf = bridge.call(
            "http.read", {"stream": self._stream, "size": max(size, _READ_SIZE)}
        )
        self._pos = 0
        if meta.get("eof"):
            self._stream = None
        return bool(self._buf) or self._stream is not None

    def _available(self):
        return len(self._buf) - self._pos

    def _take(self, n):
        data = self._buf[self._pos : self._pos + n]
        self._pos += len(data)
        if not self._available() and self._stream is None:
            self._finish()
        return data

    def read(self, amt=None):
        if self.fp is None:
            return b""
        if amt is None or amt < 0:
            parts = [self._take(self._available())]
            while self.fp is not None and self._fill(_READ_SIZE):
                parts.append(self._take(self._available()))
            self._finish()
            return b"".join(parts)
        parts, wanted = [], amt
        while wanted > 0 and self.fp is not None:
            if not self._available() and not self._fill(wanted):
                self._finish()
                break
            part = self._take(wanted)
            parts.append(part)
            wanted -= len(part)
        return b"".join(parts)

    def read1(self, n=-1):
        if self.fp is None:
            return b""
        if not self._available() and not self._fill(n if n > 0 else _READ_SIZE):
            self._finish()
            return b""
        return self._take(self._available() if n is None or n < 0 else n)

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def peek(self, n=0):
        if self.fp is not None and not self._available():
            self._fill(_READ_SIZE)
        return self._buf[self._pos :]

    def readline(self, limit=-1):
        parts, size = [], 0
        while self.fp is not None:
            chunk = self.peek()
            if not chunk:
                self._finish()
                break
            end = chunk.find(b"\n") + 1 or len(chunk)
            if limit is not None and limit >= 0:
                end = min(end, limit - size)
            part = self._take(end)
            parts.append(part)
            size += len(part)
            if part.endswith(b"\n") or (limit is not None and 0 <= limit <= size):
                break
        return b"".join(parts)

    def _finish(self):
        self.fp = None
        self._buf, self._pos = b"", 0

    def close(self):
        if self._stream is not None:
            stream, self._stream = self._stream, None
            try:
                bridge.call("http.close", {"stream": stream})
            except OSError:
                pass
        self._finish()
        super().close()


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("iso-8859-1")  # what http.client sends for a str body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("iso-8859-1") if isinstance(data, str) else data
    return b"".join(
        part.encode("iso-8859-1") if isinstance(part, str) else bytes(part) for part in body
    )


def _header_value(value):
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def request(method, url, headers=(), body=None, timeout=(None, None), proxy=None, verify=True):
    """Sends one request through the host; returns a :class:`Response`.

    ``timeout`` is ``(connect, read)`` in seconds (None: no limit); ``proxy`` a proxy URL
    or None for the host environment's proxies; ``verify`` False or a CA bundle path as in
    requests. Raises ``_wasipy_bridge.BridgeError`` (an OSError) on failure."""
    meta = {
        "method": method,
        "url": url,
        "headers": [[str(k), _header_value(v)] for k, v in headers],
        "timeout": list(timeout),
        "proxy": proxy,
        "verify": verify,
    }
    head, first = bridge.call("http.request", meta, _body_bytes(body))
    return Response(head, first)


# -- requests (pip's vendored copy) ---------------------------------------------------


def _timeouts(adapters, timeout):
    if isinstance(timeout, tuple):
        connect, read = timeout
    elif isinstance(timeout, adapters.TimeoutSauce):
        connect, read = timeout.connect_timeout, timeout.read_timeout
    else:
        connect = read = timeout
    number = (int, float)
    return (
        connect if isinstance(connect, number) else None,
        read if isinstance(read, number) else None,
    )


def _urllib3_error(exc, err, url):
    """The urllib3 exception a real connection would have raised, so Retry counts it."""
    kind = err.kind
    if kind in ("dns", "connect", "connection"):
        return exc.NewConnectionError(None, f"Failed to establish a new connection: {err}")
    if kind == "connect_timeout":
        return exc.ConnectTimeoutError(None, f"Connection timed out: {err}")
    if kind == "read_timeout":
        return exc.ReadTimeoutError(None, url, f"Read timed out: {err}")
    if kind == "tls":
        return exc.SSLError(err)
    if kind == "proxy":
        return exc.ProxyError("Unable to connect to proxy", err)
    return exc.ProtocolError("Connection aborted.", err)


def _raise_for(adapters, exc, error, request):
    """requests' own mapping of urllib3 failures (``HTTPAdapter.send``)."""
    if isinstance(error, exc.MaxRetryError):
        reason = error.reason
        if isinstance(reason, exc.ConnectTimeoutError) and not isinstance(
            reason, exc.NewConnectionError
        ):
            raise adapters.ConnectTimeout(error, request=request)
        if isinstance(reason, exc.ResponseError):
            raise adapters.RetryError(error, request=request)
        if isinstance(reason, exc.ProxyError):
            raise adapters.ProxyError(error, request=request)
        if isinstance(reason, exc.SSLError):
            raise adapters.SSLError(error, request=request)
        raise adapters.ConnectionError(error, request=request)
    if isinstance(error, exc.ReadTimeoutError):
        raise adapters.ReadTimeout(error, request=request)
    if isinstance(error, exc.SSLError):
        raise adapters.SSLError(error, request=request)
    if isinstance(error, exc.ProxyError):
        raise adapters.ProxyError(error)
    raise adapters.ConnectionError(error, request=request)


def _pool_for(urllib3, url, proxy):
    """The connection pool a socket-based urllib3 would have used, for its errors only (it
    never connects): ``MaxRetryError`` names it, and pip reads its host and proxy."""
    try:
        if proxy:
            return urllib3.ProxyManager(proxy).connection_from_url(url)
        return urllib3.connectionpool.connection_from_url(url)
    except Exception:  # an unusual proxy URL: the error just names no pool
        return None


def _send(adapter, adapters, urllib3, prepared, timeout, verify, cert, proxies):
    exc = urllib3.exceptions
    if cert:
        raise adapters.SSLError(
            "client certificates are not supported through the wasipy host bridge",
            request=prepared,
        )
    url, method = prepared.url, prepared.method
    headers = list(prepared.headers.items())
    body = _body_bytes(prepared.body)
    proxy = adapters.select_proxy(url, proxies) if proxies else None
    timeouts = _timeouts(adapters, timeout)
    retries = adapter.max_retries
    log = logging.getLogger(urllib3.__name__ + ".connectionpool")
    pool = _pool_for(urllib3, url, proxy)
    while True:
        try:
            response = request(method, url, headers, body, timeouts, proxy, verify)
        except bridge.BridgeError as err:
            if err.kind in ("denied", "bad_request", "unavailable", "unknown_op"):
                # Not worth a retry; say why, since callers such as pip log connection
                # errors only in verbose mode.
                log.warning("%s", err)
                raise adapters.ConnectionError(err, request=prepared) from None
            error = _urllib3_error(exc, err, url)
            try:
                retries = retries.increment(
                    method, url, error=error, _pool=pool, _stacktrace=sys.exc_info()[2]
                )
            except (exc.MaxRetryError, exc.HTTPError) as final:
                _raise_for(adapters, exc, final, prepared)
            log.warning(
                "Retrying (%r) after connection broken by '%r': %s", retries, error, url
            )
            retries.sleep()
            continue
        raw = urllib3.response.HTTPResponse(
            body=response,
            headers=response.getheaders(),
            status=response.status,
            version=11,
            version_string="HTTP/1.1",
            reason=response.reason,
            preload_content=False,
            decode_content=False,
            original_response=response,  # requests reads cookies from its ``msg``
            retries=retries,
            request_method=method,
            request_url=url,
        )
        has_retry_after = bool(raw.headers.get("Retry-After"))
        if not retries.is_retry(method, raw.status, has_retry_after):
            return adapter.build_response(prepared, raw)
        try:
            retries = retries.increment(method, url, response=raw, _pool=pool)
        except exc.MaxRetryError as final:
            if retries.raise_on_status:
                raw.drain_conn()
                _raise_for(adapters, exc, final, prepared)
            return adapter.build_response(prepared, raw)
        raw.drain_conn()
        retries.sleep(raw)
        log.debug("Retry: %s", url)


def patch_requests(adapters):
    """Makes ``HTTPAdapter.send`` (and so every adapter built on it, such as pip's caching
    one) send through the bridge."""
    import importlib

    cls = adapters.HTTPAdapter
    if getattr(cls.send, "_wasipy", False):
        return
    package = adapters.__name__.rpartition(".requests.")[0]
    urllib3 = importlib.import_module(package + ".urllib3" if package else "urllib3")
    importlib.import_module(urllib3.__name__ + ".response")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        return _send(self, adapters, urllib3, request, timeout, verify, cert, proxies)

    send._wasipy = True
    send.__doc__ = cls.send.__doc__
    cls.send = send


# -- pip -------------------------------------------------------------------------------


def patch_pip_search_scope(module):
    """pip warns that https locations need ``ssl``; through the host they do not."""
    module.has_tls = lambda: True


def patch_pip_index_command(module):
    """truststore needs ``ssl``; the host verifies with the system store instead."""
    if hasattr(module, "_create_truststore_ssl_context"):
        module._create_truststore_ssl_context = lambda: None
