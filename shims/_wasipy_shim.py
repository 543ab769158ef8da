"""wasipy's guest-side start-up fixes, run by ``_wasipy.pth`` (so they apply under ``-I`` too).

WASI preview 1 cannot tell the guest some things a native process simply has, so the
launcher passes them in private environment variables. Each fix below applies one and
removes its variable, so user code and child processes never see them.
"""

import os as _os
import sys as _sys


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


_restore_cwd()
_restore_script_name()
