"""Stands where ``ctypes`` would be on a runtime whose stdlib leaves it out, so that
``import ctypes`` fails as on a CPython built without ``_ctypes``, saying why (see
``_ctypes.py`` beside it). A runtime whose stdlib has ``ctypes`` takes precedence."""

import _ctypes  # noqa: F401  (raises ModuleNotFoundError with the reason)
