//! The venv's `python`: decide, then act. It finds its venv from the path it was invoked by
//! ([`locate`]), reads the venv, its runtime and the host's environment, decides the guest
//! to run ([`decide`], a pure function), and runs it with the runtime's compiled code.

pub mod decide;
pub mod locate;

use crate::engine::{cache::Cache, run};
use crate::guest::{host, sandbox};
use crate::runtime::Store;
use crate::settings::Settings;
use crate::stop;
use crate::timer::Timer;
use crate::venv::Venv;
use decide::{Found, Profile};
use std::ffi::{OsStr, OsString};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("argument {index} is not valid UTF-8 ({arg:?}); WASI passes arguments as UTF-8 text")]
    NonUtf8Arg { index: usize, arg: OsString },
}

pub fn main(argv0: &OsStr, args: Vec<OsString>, settings: &Settings) -> anyhow::Result<i32> {
    let timer = Timer::new(settings.log);
    let cwd = std::env::current_dir().ok();
    let path_var = std::env::var_os("PATH");
    let (exe, venv_dir) = locate::locate(argv0, cwd.as_deref(), path_var.as_deref())?;
    let venv = Venv::open(&venv_dir)?;
    let runtime = Store::in_home(settings.data_home()?).load(venv.runtime_id()?)?;
    let args = utf8_args(args)?;
    timer.mark("venv and runtime located");
    let cache_home = settings.cache_home()?;
    let embedded = runtime.embedded();
    let home = venv.cfg.get("home").unwrap_or_default();
    let found = Found {
        exe: &exe,
        args: &args,
        cwd: cwd.as_deref(),
        env: host::env(),
        host_facts: host::facts(),
        venv: &venv,
        runtime_mounts: runtime.mounts(embedded.as_ref(), home),
        stdlib: runtime.stdlib_mounts_for(home),
        shadowed: embedded.map(|e| vec![e.root]).unwrap_or_default(),
        bridge_dir: cache_home.join("bridge"),
        extra_mounts: &settings.sandbox_mounts,
        extra_env: &settings.sandbox_env,
        limits: venv.limits()?,
    };
    // Kept until the run ends: the sandbox's private temp dir.
    let tmp = venv.sandboxed().then(sandbox::temp_dir).transpose()?;
    let profile = match &tmp {
        Some(tmp) => Profile::Sandbox { tmp: tmp.path() },
        None => Profile::Transparent,
    };
    let guest = decide::decide(found, profile)?;
    stop::handle_sigint();
    let code = Cache::new(&runtime, cache_home, settings.engine).load(&timer)?;
    Ok(exit_code(run::run(&code, guest, &timer)))
}

/// The process exit code of a run: the guest's, or a one-line report and the code a native
/// python would die with.
fn exit_code(outcome: Result<i32, crate::engine::Error>) -> i32 {
    match outcome {
        Ok(code) => {
            if code == stop::INTERRUPTED_EXIT && stop::interrupted() {
                eprintln!("KeyboardInterrupt");
            }
            code
        }
        Err(err) => {
            eprintln!("wasipy: {err}");
            err.exit_code()
        }
    }
}

fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, Error> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            arg.into_string()
                .map_err(|arg| Error::NonUtf8Arg { index: i + 1, arg })
        })
        .collect()
}
