"""Starting threads and processes, which WASI preview 1 cannot: the errors say why. Kept
apart from ``_wasipy_compat`` because ``threading`` is imported by much of the stdlib
(``logging``, ``concurrent.futures``), and this is all such an import should load."""

import errno


def patch_threading(threading):
    """Starting a thread fails in WASI preview 1 with CPython's bare "can't start new
    thread"; keep that error (code matches on it) and say why."""
    name = "_start_joinable_thread" if hasattr(threading, "_start_joinable_thread") else "_start_new_thread"
    start = getattr(threading, name)
    if getattr(start, "_wasipy", False):
        return

    def start_thread(*args, **kwargs):
        try:
            return start(*args, **kwargs)
        except RuntimeError as e:
            if "can't start new thread" not in str(e) or "WASI" in str(e):
                raise
            raise RuntimeError(
                "can't start new thread: this CPython runs on WASI preview 1, which has no "
                "threads; run the work in this thread, or in a child process through subprocess"
            ) from None

    start_thread._wasipy = True
    setattr(threading, name, start_thread)


def patch_multiprocessing(process):
    """``multiprocessing`` imports, but WASI can neither fork nor hand a child process the
    pipes its start methods need: say so when a process starts, not with an
    ``AttributeError`` from deep inside (``os.WNOHANG``)."""
    base = process.BaseProcess
    if getattr(base.start, "_wasipy", False):
        return

    def start(self):
        raise OSError(
            errno.ENOSYS,
            "multiprocessing cannot start a process on WASI, which has no fork and cannot "
            "pass a child its pipes; run the work in this process, or start python through "
            "subprocess",
        )

    start._wasipy = True
    base.start = start
