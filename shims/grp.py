"""A stand-in for the ``grp`` module, which WASI lacks: the host's group database, asked of
the host through the wasipy bridge. A sandboxed guest sees only its own group (without its
members). ``getgrall()`` lists that group only.
Installed into wasipy venvs; a runtime with a real ``grp`` takes precedence over it.
"""

import os as _os
from collections import namedtuple as _namedtuple


class struct_group(_namedtuple("struct_group", ("gr_name", "gr_passwd", "gr_gid", "gr_mem"))):
    """grp.struct_group: a group's entry, also a 4-tuple."""

    n_fields = n_sequence_fields = 4
    n_unnamed_fields = 0


def _lookup(meta, missing):
    from _wasipy_bridge import call, entry

    answer = entry(lambda: call("users.group", meta), missing)
    return struct_group(answer["name"], answer["passwd"], answer["gid"], list(answer["mem"]))


def getgrgid(id, /):
    """The entry of group id ``id``; KeyError if there is none."""
    import operator

    id = operator.index(id)
    return _lookup({"gid": id}, f"getgrgid(): gid not found: {id}")


def getgrnam(name, /):
    """The entry of group ``name``; KeyError if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"getgrnam() argument must be str, not {type(name).__name__}")
    return _lookup({"name": name}, f"getgrnam(): name not found: {name!r}")


def getgrall():
    """Every entry this guest may see: its own group's."""
    return [getgrgid(_os.getgid())]
