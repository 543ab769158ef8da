"""Name lookups in a module made by ``wasipy pack``, where no wasipy bridge exists.

This runtime's ``_socket`` has sockets that refuse to be made (``OSError`` ENOTSUP, CPython's
unsupported-operation error) but no resolver at all, so ``socket.create_connection`` and
``urllib`` stopped on an ``AttributeError``. The missing lookups are supplied here and raise
the same ``OSError``, with a message that says why, as every other network call does.
"""

import errno

import _socket

REASON = "this WASI host gives Python no network (a packed module has no wasipy bridge)"
LOOKUPS = ("getaddrinfo", "getnameinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")


def unsupported(*args, **kwargs):
    """Raises what CPython raises for an operation the platform does not support."""
    raise OSError(errno.ENOTSUP, REASON)


def install():
    """Supplies each lookup ``_socket`` lacks (one it has is left alone)."""
    for name in LOOKUPS:
        if not hasattr(_socket, name):
            setattr(_socket, name, unsupported)


install()
