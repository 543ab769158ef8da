"""Subprocesses for guest code: this venv's python runs as a child interpreter.

WASI preview 1 has no processes. A command that is this interpreter (``sys.executable``,
the venv's ``bin/python*``, or a console script whose shebang names it) runs as a new WASI
instance that the launcher starts on a host thread, through the host bridge, with the given
argv, cwd, env and stdin; captured output comes back through the bridge. Anything else (a
host program such as ``git`` or ``sh``) raises FileNotFoundError saying WASI cannot run it.

Limits: a child's stdin is a pipe the parent writes to (interactive back-and-forth works,
since the child runs concurrently); stdout/stderr redirected to a file object are copied
into it when the parent waits; ``preexec_fn``, ``pass_fds``, ``user``/``group`` and
sessions have no meaning here and are ignored.
"""

import io
import os
import shlex
import signal
import sys
import time

import _wasipy_bridge as bridge

_EXPLAIN = (
    "wasipy: WASI cannot run host programs; only this venv's python and its console "
    "scripts run as subprocesses"
)
_OPERATORS = set("();<>|&")


def _this_python():
    return os.path.realpath(sys.executable)


def _is_this_python(path):
    try:
        return os.path.realpath(path) == _this_python()
    except (OSError, ValueError):
        return False


def _which(name, env):
    if os.sep in name:
        return name
    path = (env or os.environ).get("PATH", os.defpath)
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _shebang_python(path):
    """The interpreter named by a script's shebang (pip's plain form or its /bin/sh form)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return None
    lines = head.split(b"\n", 2)
    if not lines[0].startswith(b"#!"):
        return None
    first = lines[0][2:].strip().decode(errors="replace")
    if first == "/bin/sh" and len(lines) > 1 and lines[1].startswith(b"'''exec' "):
        try:
            return shlex.split(lines[1][9:].decode(errors="replace"))[0]
        except (ValueError, IndexError):
            return None
    return first.split()[0] if first else None


def _not_runnable(name):
    import errno

    return FileNotFoundError(errno.ENOENT, f"No such file or directory ({_EXPLAIN})", name)


def resolve(args, executable=None, shell=False, env=None):
    """The argv to run for a Popen call, with this interpreter's path first; raises
    FileNotFoundError for anything else."""
    if shell:
        command = args if isinstance(args, str) else " ".join(map(os.fsdecode, args))
        # A plain command line runs without a shell; pipes, redirections, `;`, `&&` need one.
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        try:
            tokens = list(lexer)
            argv = shlex.split(command)
        except ValueError:
            raise _not_runnable("/bin/sh") from None
        if any(t and set(t) <= _OPERATORS for t in tokens) or "$" in command or "`" in command:
            raise _not_runnable("/bin/sh")
    elif isinstance(args, (str, bytes, os.PathLike)):
        argv = [os.fsdecode(args)]
    else:
        argv = [os.fsdecode(a) for a in args]
    if not argv:
        raise IndexError("list index out of range")
    program = os.fsdecode(executable) if executable else argv[0]
    found = _which(program, env)
    if found is None:
        raise _not_runnable(program)
    if _is_this_python(found):
        return [sys.executable] + argv[1:]
    interpreter = _shebang_python(found)
    if interpreter and _is_this_python(interpreter):
        return [sys.executable, os.path.abspath(found)] + argv[1:]
    raise _not_runnable(program)


class _Pipe(io.RawIOBase):
    """One end of a child's stdin, stdout or stderr, carried by the bridge."""

    def __init__(self, pid, stream):
        self._pid, self._stream, self._eof = pid, stream, False

    def readable(self):
        return self._stream != 0

    def writable(self):
        return self._stream == 0

    def _read(self, size, timeout=None):
        """Up to ``size`` bytes the child wrote: waits for some (or the end), or for at most
        ``timeout`` seconds (then maybe none)."""
        if self._eof:
            return b""
        meta = {"pid": self._pid, "stream": self._stream, "size": size, "timeout": timeout}
        reply, data = bridge.call("proc.read", meta)
        self._eof = reply.get("eof", False)
        return data

    def readinto(self, b):
        data = self._read(len(b))
        b[: len(data)] = data
        return len(data)

    def read_available(self, size):
        """What the child has written so far, without waiting: ``(bytes, at_end)``."""
        data = self._read(size, timeout=0)
        return data, self._eof

    def write(self, b):
        data = bytes(b)
        if data:
            bridge.call("proc.write", {"pid": self._pid}, data)
        return len(data)

    def close(self):
        if not self.closed and self._stream == 0:
            try:
                bridge.call("proc.close_stdin", {"pid": self._pid})
            except OSError:
                pass
        super().close()


def _stream_mode(value, subprocess, stderr=False):
    if value is None:
        return "inherit", None
    if value == subprocess.PIPE:
        return "pipe", None
    if value == subprocess.DEVNULL:
        return "null", None
    if stderr and value == subprocess.STDOUT:
        return "stdout", None
    fd = value if isinstance(value, int) else value.fileno()
    if fd in (1, 2):
        return "inherit", None
    return "pipe", fd  # captured, then copied into the caller's file when it waits


def install(subprocess):
    """Replaces ``subprocess.Popen`` (and so run, call, check_call, check_output) and
    ``os.system``/``os.popen`` with child interpreters."""
    if getattr(subprocess.Popen, "_wasipy", False):
        return
    base = subprocess.Popen

    class Popen(base):
        _wasipy = True

        def __init__(self, args, bufsize=-1, executable=None, stdin=None, stdout=None,
                     stderr=None, preexec_fn=None, close_fds=True, shell=False, cwd=None,
                     env=None, universal_newlines=None, startupinfo=None, creationflags=0,
                     restore_signals=True, start_new_session=False, pass_fds=(), *,
                     user=None, group=None, extra_groups=None, encoding=None, errors=None,
                     text=None, umask=-1, pipesize=-1, process_group=None):
            self._child_created = False
            self._input = None
            self._communication_started = False
            self.args = args
            self.stdin = self.stdout = self.stderr = None
            self.pid = None
            self.returncode = None
            self.encoding, self.errors = encoding, errors
            self.pipesize = pipesize
            if text is not None and universal_newlines is not None and bool(universal_newlines) != bool(text):
                raise subprocess.SubprocessError(
                    "Cannot disambiguate when both text and universal_newlines are supplied but different. Pass one or the other."
                )
            self.text_mode = bool(encoding or errors or text or universal_newlines)
            if self.text_mode and encoding is None:
                self.encoding = encoding = "utf-8" if sys.flags.utf8_mode else __import__("locale").getencoding()
            argv = resolve(args, executable, shell, env)
            modes = [_stream_mode(stdin, subprocess), _stream_mode(stdout, subprocess),
                     _stream_mode(stderr, subprocess, stderr=True)]
            source = modes[0][1]
            if source is not None:
                modes[0] = ("pipe", source)
            self._copy_to = {1: modes[1][1], 2: modes[2][1]}
            environ = os.environ if env is None else env
            spec = {
                "exe": argv[0],
                "argv": argv[1:],
                "cwd": os.path.abspath(os.fsdecode(cwd)) if cwd is not None else os.getcwd(),
                "env": [[os.fsdecode(k), os.fsdecode(v)] for k, v in environ.items()],
                "stdin": modes[0][0],
                "stdout": modes[1][0],
                "stderr": modes[2][0],
            }
            self.pid = bridge.call("proc.spawn", spec)[0]["pid"]
            self._child_created = True
            if source is not None:
                self._feed(source)
            line_buffering = bufsize == 1 and self.text_mode
            if stdin == subprocess.PIPE:
                raw = _Pipe(self.pid, 0)
                self.stdin = io.BufferedWriter(raw) if bufsize != 0 else raw
                if self.text_mode:
                    self.stdin = io.TextIOWrapper(self.stdin, write_through=True,
                                                  line_buffering=line_buffering,
                                                  encoding=encoding, errors=errors)
            for name, value, stream in (("stdout", stdout, 1), ("stderr", stderr, 2)):
                if value == subprocess.PIPE:
                    reader = io.BufferedReader(_Pipe(self.pid, stream))
                    if self.text_mode:
                        reader = io.TextIOWrapper(reader, encoding=encoding, errors=errors)
                    setattr(self, name, reader)

        def _feed(self, fd):
            """stdin from a file: send its contents, then end-of-file."""
            pipe = _Pipe(self.pid, 0)
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                pipe.write(chunk)
            pipe.close()

        def _copy_output(self):
            """Output captured for a file the caller passed: copy it there."""
            for stream, fd in self._copy_to.items():
                if fd is None:
                    continue
                while True:
                    meta, chunk = bridge.call("proc.read", {"pid": self.pid, "stream": stream, "size": 1 << 20})
                    if chunk:
                        os.write(fd, chunk)
                    if meta.get("eof") or not chunk:
                        break

        def poll(self):
            return self._internal_poll()

        def _internal_poll(self, _deadstate=None, **_):
            if self.returncode is None and self._child_created:
                code = bridge.call("proc.wait", {"pid": self.pid, "timeout": 0})[0]["returncode"]
                if code is not None:
                    self._finished(code)
            return self.returncode

        def _finished(self, code):
            if any(fd is not None for fd in self._copy_to.values()):
                self._copy_output()
                self._copy_to = {1: None, 2: None}
            self.returncode = code

        def wait(self, timeout=None):
            if self.returncode is not None:
                return self.returncode
            code = bridge.call("proc.wait", {"pid": self.pid, "timeout": timeout})[0]["returncode"]
            if code is None:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._finished(code)
            return self.returncode

        _wait = wait

        def communicate(self, input=None, timeout=None):
            if self._communication_started and input:
                raise ValueError("Cannot send input after starting communication")
            if self.stdin and not self._communication_started:
                try:
                    if input:
                        self.stdin.write(input)
                    self.stdin.close()
                except BrokenPipeError:
                    pass
            self._communication_started = True
            meta, body = bridge.call("proc.communicate", {"pid": self.pid, "timeout": timeout})
            n = meta["stdout"]
            parts = getattr(self, "_wasipy_parts", None) or [[], []]
            for i, data in enumerate((body[:n], body[n:])):
                fd = self._copy_to[i + 1]
                if fd is not None:
                    os.write(fd, data)  # redirected to the caller's file
                else:
                    parts[i].append(data)
            self._wasipy_parts = parts
            if meta["timeout"]:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._finished(meta["returncode"])
            out = b"".join(parts[0]) if self.stdout else None
            err = b"".join(parts[1]) if self.stderr else None
            for f in (self.stdout, self.stderr):
                if f:
                    f.close()
            if self.text_mode:
                out = self._translate_newlines(out, self.encoding, self.errors or "strict") if out is not None else None
                err = self._translate_newlines(err, self.encoding, self.errors or "strict") if err is not None else None
            return out, err

        def send_signal(self, sig):
            if self.returncode is None:
                bridge.call("proc.kill", {"pid": self.pid, "signal": int(sig)})

        def terminate(self):
            self.send_signal(signal.SIGTERM)

        def kill(self):
            self.send_signal(signal.SIGKILL)

        def __del__(self, _maxsize=sys.maxsize, _warn=None):
            pass

    Popen.__name__ = Popen.__qualname__ = "Popen"
    Popen.__module__ = "subprocess"
    subprocess.Popen = Popen
    subprocess._can_fork_exec = True
    os.system = _system


def _system(command):
    """``os.system``: the wait status of the command, as on POSIX."""
    import subprocess

    try:
        code = subprocess.call(command, shell=True)
    except FileNotFoundError as exc:
        sys.stderr.write(f"sh: 1: {exc}\n")
        return 127 << 8
    return (code & 0xFF) << 8 if code >= 0 else -code
