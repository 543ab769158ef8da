"""A stand-in for the ``pwd`` module, which WASI lacks: the host's user database, asked of
the host through the wasipy bridge, so ``getpass.getuser()``, ``Path.home()`` and
``os.path.expanduser("~")`` answer as on the host. A sandboxed guest sees only its own user
(with its private temp dir as home). ``getpwall()`` lists that user only.
Installed into wasipy venvs; a runtime with a real ``pwd`` takes precedence over it.
"""

import os as _os
from collections import namedtuple as _namedtuple

_FIELDS = ("pw_name", "pw_passwd", "pw_uid", "pw_gid", "pw_gecos", "pw_dir", "pw_shell")
_KEYS = ("name", "passwd", "uid", "gid", "gecos", "dir", "shell")


class struct_passwd(_namedtuple("struct_passwd", _FIELDS)):
    """pwd.struct_passwd: a user's entry, also a 7-tuple."""

    n_fields = n_sequence_fields = 7
    n_unnamed_fields = 0


def _lookup(meta, missing):
    from _wasipy_bridge import call, entry

    answer = entry(lambda: call("users.passwd", meta), missing)
    return struct_passwd(*(answer[k] for k in _KEYS))


def getpwuid(uid, /):
    """The entry of user id ``uid``; KeyError if there is none."""
    import operator

    uid = operator.index(uid)
    return _lookup({"uid": uid}, f"getpwuid(): uid not found: {uid}")


def getpwnam(name, /):
    """The entry of user ``name``; KeyError if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"getpwnam() argument must be str, not {type(name).__name__}")
    return _lookup({"name": name}, f"getpwnam(): name not found: {name!r}")


def getpwall():
    """Every entry this guest may see: its own user's."""
    return [getpwuid(_os.getuid())]
