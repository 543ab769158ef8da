/* wasipy's second entry into CPython for WebAssembly/WASI: a start-up snapshot.
 *
 * `scripts/build-runtime` links this file against libpython as a WASI reactor,
 * `python-preinit.wasm`, beside the usual `python.wasm`. wasipy runs its `wasipy.preinit`
 * export once, under wasmtime's Wizer, and keeps the memory it leaves behind as a new
 * module; every later start calls `wasipy.resume` on that module and skips what the
 * snapshot already did.
 *
 * The snapshot holds only what does not depend on the process: CPython's core
 * initialisation (types, builtins, the frozen import system) and frozen stdlib modules
 * every start-up imports anyway. Arguments, environment, paths, stdio, `site` and `.pth`
 * files are all read at resume, by CPython's own main-phase initialisation, from a
 * configuration built from this process's argv and environment exactly as `python.wasm`'s
 * `main` builds it. The launcher uses the snapshot only when nothing decided during core
 * initialisation can differ (see `allowed` in wasipy's `src/snapshot.rs`).
 */
#include <Python.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

/* wasi-libc keeps environ and the preopened directories from the first use; both were
 * read at snapshot time and must be read again from this process. */
extern char **environ;
void __wasilibc_deinitialize_environ(void);
void __wasilibc_initialize_environ(void);
void __wasilibc_reset_preopens(void);

/* CPython's own multi-phase initialisation (PEP 587): the core configuration is replaced
 * before the main phase. Internal symbols, reachable as libpython is linked statically. */
struct pyruntimestate;
extern struct pyruntimestate _PyRuntime;
const PyConfig *_PyInterpreterState_GetConfig(PyInterpreterState *interp);
PyStatus _PyConfig_Copy(PyConfig *config, const PyConfig *config2);
PyStatus _PyConfig_Write(const PyConfig *config, struct pyruntimestate *runtime);

static void die(PyStatus status) {
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }
}

static char **read_argv(size_t *argc) {
    size_t size;
    if (__wasi_args_sizes_get(argc, &size) != 0) {
        abort();
    }
    char **argv = calloc(*argc + 1, sizeof(char *));
    char *buf = malloc(size);
    if (argv == NULL || buf == NULL || __wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0) {
        abort();
    }
    return argv;
}

/* At snapshot time argv[1] is the guest path of the runtime's stdlib, so the frozen modules
 * imported now get their `__file__` (CPython sets `sys._stdlib_dir` only in the main
 * phase), and argv[2:] are the modules to import (wasipy's `snapshot.rs` chooses them). */
__attribute__((export_name("wasipy.preinit"))) void wasipy_preinit(void) {
    size_t argc;
    char **argv = read_argv(&argc);
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config._init_main = 0;
    config.parse_argv = 0;
    if (argc > 0) {
        die(PyConfig_SetBytesString(&config, &config.program_name, argv[0]));
    }
    die(Py_InitializeFromConfig(&config));
    PyConfig_Clear(&config);
    if (argc > 1) {
        PyObject *dir = PyUnicode_DecodeFSDefault(argv[1]);
        if (dir == NULL || PySys_SetObject("_stdlib_dir", dir) < 0) {
            PyErr_Print();
            abort();
        }
        Py_DECREF(dir);
    }
    for (size_t i = 2; i < argc; i++) {
        PyObject *module = PyImport_ImportModule(argv[i]);
        if (module == NULL) {
            PyErr_Print();
            abort();
        }
        Py_DECREF(module);
    }
    free(argv[0]); /* the buffer all arguments point into */
    free(argv);
}

/* `posix.environ` (the dict behind `os.environ` and `os.environb`) was filled from the
 * snapshot's environment; refill it from this process's, as the posix module does. */
static void refresh_environ(void) {
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *posix = PyDict_GetItemString(modules, "posix"); /* borrowed */
    if (posix == NULL) {
        return;
    }
    PyObject *env = PyObject_GetAttrString(posix, "environ");
    if (env == NULL || !PyDict_Check(env)) {
        abort();
    }
    PyDict_Clear(env);
    for (char **e = environ; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL) {
            continue;
        }
        PyObject *key = PyBytes_FromStringAndSize(*e, eq - *e);
        PyObject *value = PyBytes_FromString(eq + 1);
        if (key == NULL || value == NULL || PyDict_SetDefault(env, key, value) == NULL) {
            abort();
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    Py_DECREF(env);
}

__attribute__((export_name("wasipy.resume"))) void wasipy_resume(void) {
    __wasilibc_deinitialize_environ();
    __wasilibc_initialize_environ();
    __wasilibc_reset_preopens();
    /* As CPython's pre-initialisation does: LC_CTYPE from this process's environment (the
     * launcher resumes only when it names a UTF-8 locale or none, which decide the same). */
    setlocale(LC_CTYPE, "");
    refresh_environ();
    size_t argc;
    char **argv = read_argv(&argc);
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    die(PyConfig_SetBytesArgv(&config, (Py_ssize_t)argc, argv));
    /* Parsed and read as Py_BytesMain does before its core phase. Then what
     * _PyInterpreterState_SetConfig does, less computing the paths (it would run getpath,
     * and the main phase runs it again): the main phase computes them once, from this. */
    die(PyConfig_Read(&config));
    PyConfig *current = (PyConfig *)_PyInterpreterState_GetConfig(PyInterpreterState_Get());
    die(_PyConfig_Copy(current, &config));
    die(_PyConfig_Write(current, &_PyRuntime));
    PyConfig_Clear(&config);
    die(_Py_InitializeMain());
    exit(Py_RunMain());
}
