"""asyncio's subprocesses (``create_subprocess_exec``, ``loop.subprocess_exec``) as child
interpreters.

A child interpreter's pipes are carried by the bridge (``_wasipy_subprocess``), not by
descriptors the event loop could wait on, and there is no SIGCHLD. So the transport here
polls: each output pipe and the exit status are asked for without waiting, and the loop
sleeps between empty answers (1 ms at first, doubling to 20 ms while nothing comes), so
other tasks run meanwhile. Everything above the transport (``Process``, its streams,
``communicate``, ``wait``, ``kill``) is asyncio's own.
"""

import asyncio
import subprocess
from asyncio import base_subprocess

_FIRST_DELAY, _LAST_DELAY = 0.001, 0.02
_CHUNK = 1 << 16


async def _backoff(delay):
    """Sleeps ``delay`` and returns the next, longer delay."""
    await asyncio.sleep(delay)
    return min(delay * 2, _LAST_DELAY)


class _OutputPipe(asyncio.ReadTransport):
    """A child's stdout or stderr: read as it arrives, handed to the pipe's protocol."""

    def __init__(self, loop, protocol, pipe):
        super().__init__()
        self._protocol, self._pipe = protocol, pipe
        self._paused = self._closing = False
        self._task = loop.create_task(self._pump())

    async def _pump(self):
        delay = _FIRST_DELAY
        while not self._closing:
            data, eof = (b"", False) if self._paused else self._pipe.read_available(_CHUNK)
            if data:
                self._protocol.data_received(data)
                delay = _FIRST_DELAY
            if eof:
                break
            if not data:
                delay = await _backoff(delay)
        self._closing = True
        self._protocol.connection_lost(None)

    def pause_reading(self):
        self._paused = True

    def resume_reading(self):
        self._paused = False

    def is_reading(self):
        return not (self._paused or self._closing)

    def is_closing(self):
        return self._closing

    def close(self):
        self._closing = True


class _InputPipe(asyncio.WriteTransport):
    """A child's stdin: each write goes to the child at once (the host buffers it)."""

    def __init__(self, loop, protocol, pipe):
        super().__init__()
        self._loop, self._protocol, self._pipe = loop, protocol, pipe
        self._closing = False

    def write(self, data):
        if self._closing:
            raise RuntimeError("the child's stdin is closed")
        self._pipe.write(data)

    def can_write_eof(self):
        return True

    def write_eof(self):
        self.close()

    def close(self):
        if self._closing:
            return
        self._closing = True
        self._pipe.close()
        self._loop.call_soon(self._protocol.connection_lost, None)

    abort = close

    def is_closing(self):
        return self._closing

    def get_write_buffer_size(self):
        return 0

    def get_write_buffer_limits(self):
        return (0, 0)

    def set_write_buffer_limits(self, high=None, low=None):
        pass


class _ChildTransport(base_subprocess.BaseSubprocessTransport):
    """asyncio's subprocess transport over a child interpreter (``subprocess.Popen`` as
    ``_wasipy_subprocess`` installs it)."""

    def _start(self, args, shell, stdin, stdout, stderr, bufsize, **kwargs):
        self._proc = subprocess.Popen(
            args, shell=shell, stdin=stdin, stdout=stdout, stderr=stderr, bufsize=bufsize, **kwargs
        )

    def _raw_pipe(self, fd):
        stream = (self._proc.stdin, self._proc.stdout, self._proc.stderr)[fd]
        return getattr(stream, "raw", stream)

    async def _connect_pipes(self, waiter):
        try:
            for fd in sorted(self._pipes):
                if fd == 0:
                    proto = base_subprocess.WriteSubprocessPipeProto(self, fd)
                    proto.connection_made(_InputPipe(self._loop, proto, self._raw_pipe(fd)))
                else:
                    proto = base_subprocess.ReadSubprocessPipeProto(self, fd)
                    proto.connection_made(_OutputPipe(self._loop, proto, self._raw_pipe(fd)))
                self._pipes[fd] = proto
            self._loop.call_soon(self._protocol.connection_made, self)
            for callback, data in self._pending_calls:
                self._loop.call_soon(callback, *data)
            self._pending_calls = None
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if waiter is not None and not waiter.cancelled():
                waiter.set_exception(exc)
            return
        if waiter is not None and not waiter.cancelled():
            waiter.set_result(None)
        self._loop.create_task(self._watch_exit())

    async def _watch_exit(self):
        delay = _FIRST_DELAY
        while (code := self._proc.poll()) is None:
            delay = await _backoff(delay)
        self._process_exited(code)


async def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr, bufsize,
                                     extra=None, **kwargs):
    """The event loop's factory for subprocess transports, as ``unix_events`` has it."""
    waiter = self.create_future()
    transport = _ChildTransport(self, protocol, args, shell, stdin, stdout, stderr, bufsize,
                                waiter=waiter, extra=extra, **kwargs)
    try:
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transport.close()
        await transport._wait()
        raise
    return transport


def patch_unix_events(unix_events):
    """Makes the selector event loop start subprocesses as child interpreters."""
    loop = unix_events._UnixSelectorEventLoop
    if getattr(loop._make_subprocess_transport, "_wasipy", False):
        return
    _make_subprocess_transport._wasipy = True
    loop._make_subprocess_transport = _make_subprocess_transport
