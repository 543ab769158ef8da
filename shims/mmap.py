"""A stand-in for the ``mmap`` module, which this WASI runtime lacks.

WASI preview 1 cannot map files. A read-only mapping (``access=ACCESS_READ``) is served by
reading the file's bytes, which is all that read-only users such as pip's HTTP cache
(cachecontrol) need. Every other mapping (shared or private writable, anonymous) raises
``OSError(ENOTSUP)`` naming the limitation, instead of the module being missing.
Installed into wasipy venvs; a runtime with a real ``mmap`` takes precedence over it.
"""

import errno as _errno
import os as _os

ACCESS_DEFAULT, ACCESS_READ, ACCESS_WRITE, ACCESS_COPY = 0, 1, 2, 3
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS = 1, 2, 32
MAP_ANON = MAP_ANONYMOUS
PAGESIZE = ALLOCATIONGRANULARITY = 65536  # the WebAssembly page size
error = OSError


def _unsupported(what):
    return OSError(
        _errno.ENOTSUP,
        f"mmap: {what} is not available in WASI (files cannot be mapped); "
        "read the file instead",
    )


class mmap(bytes):
    """A read-only "mapping": the file's bytes, read once."""

    def __new__(cls, fileno, length, flags=MAP_SHARED, prot=PROT_READ, access=ACCESS_DEFAULT, offset=0, **_):
        read_only = access == ACCESS_READ or (access == ACCESS_DEFAULT and prot == PROT_READ)
        if fileno == -1:
            raise _unsupported("an anonymous mapping")
        if not read_only:
            raise _unsupported("a writable mapping")
        size = _os.fstat(fileno).st_size
        if offset > size:
            raise ValueError("mmap offset is greater than file size")
        length = length or size - offset
        if offset + length > size:
            raise ValueError("mmap length is greater than file size")
        chunks, pos = [], offset
        while pos < offset + length:
            chunk = _os.pread(fileno, offset + length - pos, pos)
            if not chunk:
                break
            chunks.append(chunk)
            pos += len(chunk)
        self = super().__new__(cls, b"".join(chunks))
        self._closed = False
        return self

    @property
    def closed(self):
        return self._closed

    def close(self):
        self._closed = True

    def size(self):
        return len(self)

    def flush(self, *args):
        pass

    def madvise(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
