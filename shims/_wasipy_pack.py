"""Byte-compiles the trees ``wasipy pack`` staged, inside the venv's own interpreter.

Run as ``python -I -B _wasipy_pack.py [--keep-source] HOST GUEST [HOST GUEST ...]``.
Each ``.py`` file under HOST is compiled with its guest path (GUEST/...) as the name
tracebacks show. By default the source is then removed and the bytecode left beside it as
``NAME.pyc``, which the import system loads as a sourceless module. With ``--keep-source``
the bytecode goes to ``__pycache__`` as unchecked-hash ``.pyc`` files, valid whatever
the embedded files' times say. A file that does not compile keeps its source (a warning
names it), as pip's own byte-compiling does.
"""

import importlib.util
import os
import py_compile
import sys


def compile_file(path, shown, keep_source):
    """Compiles one file; returns False (source kept) when it does not compile."""
    if keep_source:
        cfile = importlib.util.cache_from_source(path)
    else:
        cfile = path + "c"
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    try:
        py_compile.compile(path, cfile, shown, doraise=True, invalidation_mode=mode)
    except py_compile.PyCompileError as exc:
        print(f"wasipy: kept as source, it does not compile: {shown}: {exc.msg}", file=sys.stderr)
        return False
    if not keep_source:
        os.remove(path)
    return True


def compile_tree(root, guest, keep_source):
    """Compiles every ``.py`` file under ``root``; returns how many compiled."""
    done = 0
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            done += compile_file(path, f"{guest}/{rel}", keep_source)
    return done


def main(argv):
    """Compiles each HOST GUEST pair of ``argv``; exits non-zero on bad arguments."""
    keep_source = argv[:1] == ["--keep-source"]
    pairs = argv[1:] if keep_source else argv
    if not pairs or len(pairs) % 2:
        sys.exit("usage: _wasipy_pack.py [--keep-source] HOST GUEST [HOST GUEST ...]")
    for root, guest in zip(pairs[::2], pairs[1::2]):
        compile_tree(root, guest, keep_source)


if __name__ == "__main__":
    main(sys.argv[1:])
