//! What can stop `wasipy pack`: each error names the file or thing at fault and the fix.

use crate::fsio::PathError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] PathError),
    #[error("runtime {id} cannot be packed: {reason}; make the venv on the default runtime (wasipy venv --runtime {default} DIR) and pack that")]
    NotPackable {
        id: String,
        reason: String,
        default: String,
    },
    #[error("`{pth}` puts `{target}`, outside the venv, on sys.path: a packed module could not hold it; install that code into the venv or remove the .pth file")]
    PthOutside { pth: PathBuf, target: PathBuf },
    #[error("{dist} is an editable install (`{path}`): its code stays in its project; reinstall it without -e (python -m pip install PROJECT_DIR) and pack again")]
    Editable { dist: String, path: PathBuf },
    #[error("`{path}` {reason}")]
    Project { path: PathBuf, reason: String },
    #[error("`{path}` has no [project.scripts] entry `{name}` (it has: {known})")]
    NoEntry {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("project {project} is not installed in `{venv}`: run `{venv}/bin/python -m pip install .` in the project first")]
    NotInstalled { project: String, venv: PathBuf },
    #[error("`{python} {script}` over the packed files failed ({status})")]
    Helper {
        python: PathBuf,
        script: String,
        status: String,
    },
    #[error("--strip-stdlib: {0}; pack without --strip-stdlib")]
    Stdlib(String),
    #[error("--keep-stdlib {0}: not a module of this runtime's stdlib; name one as `import` does (xmlrpc.client)")]
    UnknownStdlib(String),
    #[error("embedding the files into the module failed: {0}")]
    Embed(String),
    #[error("setting the packed module's command line failed: {0}")]
    Argv(String),
}
