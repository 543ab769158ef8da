"""Finds the stdlib modules a packed app can import, inside the venv's own interpreter
(``wasipy pack --strip-stdlib``).

Run as ``python -I -B _wasipy_pack_stdlib.py OUT ZIP [--keep NAME ...] TREE [TREE ...]``.
Every module under each staged TREE (the app and site-packages, already byte-compiled) is
a root, and so is each ``--keep`` NAME; ``modulefinder`` follows their imports, function
bodies included, through the stdlib. A name imported only at run time
(``importlib.import_module("x")``) is not seen: ``--keep`` names it. Writes ``OUT/keep.txt``
(the stdlib modules reached, one a line), ``OUT/unknown.txt`` (the ``--keep`` names that
are no stdlib module) and ``OUT/stdlib.zip``, a copy of the runtime's
embedded stdlib ZIP, which wasipy trims and finds again in the module's memory.
"""

import modulefinder
import os
import shutil
import sys

# Roots whatever the app: what a packed interpreter imports before the app runs (`site`,
# `runpy` for -m; the codecs are in WHOLE) and modules CPython's C code imports by name when a
# feature is used (`time.strptime`, pickling, printing a warning or a traceback).
ALWAYS = ("site", "runpy", "warnings", "linecache", "traceback", "_strptime",
          "copyreg", "_compat_pickle")

# Tools for a person at a prompt, which a packed module (its command line fixed to the app)
# never gives one: stdlib modules import them only for that (`help()` imports pydoc, and
# with it http.server, email and unittest; `_test()` functions and `__main__` blocks
# import doctest; post-mortem hooks pdb; the REPL rlcompleter). A stdlib module's import of
# one is not followed; an app's or a package's is. `--keep-stdlib pydoc` packs `help()`.
PROMPT_TOOLS = {"pydoc", "doctest", "pdb", "rlcompleter"}


class Finder(modulefinder.ModuleFinder):
    """modulefinder that does not follow a stdlib module into :data:`PROMPT_TOOLS`."""

    def __init__(self, lib, path):
        super().__init__(path=path)
        self.lib = lib + os.sep

    def import_hook(self, name, caller=None, fromlist=None, level=-1):
        """Follows an import unless a stdlib module asks for a prompt tool."""
        from_stdlib = caller is not None and (caller.__file__ or "").startswith(self.lib)
        top = caller.__name__.split(".")[0] if caller is not None else None
        if from_stdlib and name in PROMPT_TOOLS and top not in PROMPT_TOOLS:
            return None
        return super().import_hook(name, caller, fromlist, level)


# Kept whole: their modules are imported by computed names (a codec by its name,
# sysconfig's data by the platform's).
WHOLE = ("encodings", "_sysconfigdata_")


def whole_modules(lib):
    """The stdlib modules under :data:`WHOLE`, by name (``encodings.idna``...)."""
    for name in sorted(os.listdir(lib)):
        if name.startswith(WHOLE) and name.endswith(".pyc"):
            yield name[: -len(".pyc")]
    for name in sorted(os.listdir(os.path.join(lib, "encodings"))):
        if name.endswith(".pyc") and name != "__init__.pyc":
            yield f"encodings.{name[: -len('.pyc')]}"


def stdlib_dir():
    """Where this interpreter's stdlib modules are files (unpacked, sourceless)."""
    return os.path.dirname(modulefinder.__file__)


def dotted(tree, path):
    """The module name ``path`` (a ``.py`` or ``.pyc`` under ``tree``) is imported as, or
    None when a folder on the way is no identifier (``x.dist-info``, ``bin``)."""
    rel = os.path.relpath(path, tree).replace(os.sep, "/")
    parts = rel.rsplit(".", 1)[0].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    ok = parts and all(p.isidentifier() for p in parts)
    return ".".join(parts) if ok else None


def module_files(tree):
    """Every module file under ``tree``: ``.pyc`` beside no ``.py``, and ``.py``."""
    for folder, dirs, names in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(".py") or (name.endswith(".pyc") and not os.path.exists(path[:-1])):
                yield path


def scan_root(finder, tree, path, index):
    """Scans one root: imported by its name, so relative imports resolve; else (a folder
    that is no package, a namespace package) loaded alone under a name of its own."""
    name = dotted(tree, path)
    if name is not None:
        try:
            finder.import_hook(name)
            return
        except Exception:  # noqa: BLE001 - any failure falls back to scanning the file alone
            pass
    kind = modulefinder._PY_COMPILED if path.endswith(".pyc") else modulefinder._PY_SOURCE
    try:
        with open(path, "rb") as fp:
            finder.load_module(f"__wasipy_root_{index}__", fp, path, ("", "rb", kind))
    except (ImportError, SyntaxError, ValueError, EOFError) as exc:
        print(f"wasipy: not scanned for imports: {path}: {exc}", file=sys.stderr)


def reached(trees, keep):
    """The stdlib module names reachable from the trees' modules and ``keep``, and the
    names in ``keep`` that are no stdlib module (a typo, or a package of site-packages)."""
    lib = stdlib_dir()
    inside = lib + os.sep
    finder = Finder(lib, [*trees, lib, os.path.join(lib, "lib-dynload")])
    for name in [*ALWAYS, *whole_modules(lib), *keep]:
        try:
            finder.import_hook(name)
        except Exception:  # noqa: BLE001 - built-in, frozen-only or wasipy's own: nothing to keep
            pass
    index = 0
    for tree in trees:
        for path in module_files(tree):
            scan_root(finder, tree, path, index)
            index += 1
    in_stdlib = {n for n, m in finder.modules.items() if (m.__file__ or "").startswith(inside)}
    known = in_stdlib | set(sys.builtin_module_names)
    return sorted(in_stdlib), [name for name in keep if name not in known]


def parse(argv):
    """``OUT ZIP [--keep NAME ...] TREE ...`` as (out, zip, keep, trees)."""
    if len(argv) < 3:
        sys.exit("usage: _wasipy_pack_stdlib.py OUT ZIP [--keep NAME ...] TREE [TREE ...]")
    out, zip_path, rest = argv[0], argv[1], argv[2:]
    keep = []
    while rest[:1] == ["--keep"] and len(rest) > 1:
        keep.append(rest[1])
        rest = rest[2:]
    if not rest:
        sys.exit("_wasipy_pack_stdlib.py: no TREE to scan")
    return out, zip_path, keep, rest


def main(argv):
    """Writes OUT/keep.txt, OUT/unknown.txt and OUT/stdlib.zip."""
    out, zip_path, keep, trees = parse(argv)
    names, unknown = reached(trees, keep)
    for file, lines in [("keep.txt", names), ("unknown.txt", unknown)]:
        with open(os.path.join(out, file), "w", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in lines)
    shutil.copyfile(zip_path, os.path.join(out, "stdlib.zip"))


if __name__ == "__main__":
    main(sys.argv[1:])
