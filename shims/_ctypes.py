"""Stands where ``_ctypes`` would be, to say why it is not there.

``ctypes`` loads shared libraries (``dlopen``) and calls native code, and a CPython for
WASI can do neither: WASI preview 1 has no dynamic loading and the interpreter cannot call
outside its module. Importing ``ctypes`` (or ``_ctypes``) raises the same
``ModuleNotFoundError`` as on a CPython built without it, with that reason. Installed into
wasipy venvs; a runtime with a real ``_ctypes`` takes precedence over it.
"""

raise ModuleNotFoundError(
    "No module named '_ctypes': ctypes loads and calls native code, which a CPython on "
    "WASI cannot (no dlopen); use a pure-Python library, or one built into this runtime",
    name="_ctypes",
)
