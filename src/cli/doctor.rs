//! `wasipy doctor`: checks the runtime store, the cache and a venv, and says what is wrong
//! and how to fix it. Exit 0 when everything checked is healthy, 1 otherwise.

use crate::dirs;
use crate::engine::cache::{Cache, SnapshotState};
use crate::runtime::{self, catalogue, Store};
use crate::settings::Settings;
use crate::venv::{self, pyvenv_cfg};
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Report {
    problems: usize,
}

impl Report {
    fn ok(&self, what: impl AsRef<str>) {
        println!("ok      {}", what.as_ref());
    }

    fn note(&self, what: impl AsRef<str>) {
        println!("note    {}", what.as_ref());
    }

    fn problem(&mut self, what: impl AsRef<str>, fix: impl AsRef<str>) {
        self.problems += 1;
        println!("PROBLEM {}\n        fix: {}", what.as_ref(), fix.as_ref());
    }
}

pub fn run(venv: Option<PathBuf>, settings: &Settings) -> anyhow::Result<i32> {
    let mut report = Report::default();
    let store = check_store(&mut report, settings);
    check_cache(&mut report, settings);
    let venv = venv
        .or_else(|| settings.virtual_env.clone())
        .or_else(|| Some(PathBuf::from(".venv")).filter(|p| p.exists()));
    match (venv, store) {
        (Some(dir), Some(store)) => check_venv(&mut report, &store, &dir),
        (None, _) => {
            report.note("no venv to check (pass one, activate one, or run where .venv is)")
        }
        _ => {}
    }
    if report.problems == 0 {
        println!("no problems found");
        Ok(0)
    } else {
        println!("{} problem(s) found", report.problems);
        Ok(1)
    }
}

fn check_store(report: &mut Report, settings: &Settings) -> Option<Store> {
    let store = match settings.data_home() {
        Ok(home) => Store::in_home(home),
        Err(err) => {
            report.problem(err.to_string(), format!("set `{}`", dirs::HOME_VAR));
            return None;
        }
    };
    let installed = store.list();
    if installed.is_empty() {
        report.note(format!(
            "no runtimes in `{}` yet (`wasipy venv` installs the default)",
            store.root().display()
        ));
    }
    for manifest in installed {
        let id = &manifest.id;
        let wasm = store.dir_of(id).join(runtime::WASM_FILE);
        let intact = format!(
            "runtime {id} (Python {}) intact at `{}`",
            manifest.python_version,
            wasm.display()
        );
        check_hash(report, id, &wasm, &manifest.sha256, intact);
        check_files(report, &store, id);
        if let Ok(installed) = store.load(id) {
            check_snapshot(report, &installed, settings);
        }
    }
    Some(store)
}

/// The files a catalogue runtime has besides its wasm (a reactor's stdlib zip), against
/// the catalogue's pins.
fn check_files(report: &mut Report, store: &Store, id: &str) {
    let Some(entry) = catalogue::get().find(id) else {
        return;
    };
    for source in &entry.sources {
        let catalogue::Source::Wheel(wheel) = source else {
            continue;
        };
        for file in &wheel.files {
            let path = store.dir_of(id).join(&file.path);
            let intact = format!("runtime {id}: `{}` intact", path.display());
            check_hash(report, id, &path, &file.sha256, intact);
        }
    }
}

/// Re-hashes runtime `id`'s file `path` against `expected`; `intact` is what is said if it
/// matches.
fn check_hash(report: &mut Report, id: &str, path: &Path, expected: &str, intact: String) {
    match runtime::sha256_file(path) {
        Ok(sha) if sha == expected => report.ok(intact),
        Ok(_) => report.problem(
            format!(
                "runtime {id}: `{}` does not match its SHA-256",
                path.display()
            ),
            reinstall_hint(id),
        ),
        Err(err) => report.problem(
            format!("runtime {id}: cannot read `{}`: {err}", path.display()),
            reinstall_hint(id),
        ),
    }
}

fn check_snapshot(report: &mut Report, installed: &runtime::Installed, settings: &Settings) {
    let id = &installed.manifest.id;
    let Ok(home) = settings.cache_home() else {
        return; // check_cache reports it
    };
    match Cache::new(installed, home, settings.engine).snapshot_state() {
        Ok(SnapshotState::None) | Err(_) => {}
        Ok(SnapshotState::Ready(path)) => report.ok(format!(
            "runtime {id}: start-up snapshot compiled at `{}`",
            path.display()
        )),
        Ok(SnapshotState::Pending) => report.note(format!(
            "runtime {id}: start-up snapshot not made yet (the next run starts making it)"
        )),
        Ok(SnapshotState::Failed(reason)) => {
            report.problem(format!("runtime {id}: {reason}"), reinstall_hint(id))
        }
    }
}

fn reinstall_hint(id: &str) -> String {
    if catalogue::get().find(id).is_some() {
        format!("`wasipy runtime install --force {id}`")
    } else {
        format!("`wasipy runtime remove --force {id}` and add it again")
    }
}

fn check_cache(report: &mut Report, settings: &Settings) {
    let cache = match settings.cache_home() {
        Ok(cache) => cache,
        Err(err) => return report.problem(err.to_string(), format!("set `{}`", dirs::CACHE_VAR)),
    };
    let probe = std::fs::create_dir_all(cache).and_then(|_| tempfile::tempfile_in(cache));
    match probe {
        Ok(_) => report.ok(format!("cache `{}` is writable", cache.display())),
        Err(err) => report.problem(
            format!(
                "cache `{}` is not writable: {err} (every run compiles the runtime again)",
                cache.display()
            ),
            format!("fix its permissions or set `{}`", dirs::CACHE_VAR),
        ),
    }
}

fn check_venv(report: &mut Report, store: &Store, dir: &Path) {
    let cfg = dir.join(pyvenv_cfg::FILE_NAME);
    let venv = match venv::Venv::open(dir) {
        Ok(venv) => venv,
        Err(err) => {
            return report.problem(
                format!("venv `{}`: {err}", dir.display()),
                format!("recreate it: `wasipy venv --clear {}`", dir.display()),
            )
        }
    };
    let id = match venv.runtime_id() {
        Ok(id) => id.to_owned(),
        Err(err) => {
            return report.problem(
                err.to_string(),
                "recreate the venv with `wasipy venv --clear`",
            )
        }
    };
    match store.load(&id) {
        Ok(_) => report.ok(format!("venv `{}` uses runtime {id}", dir.display())),
        Err(err) => report.problem(
            format!("venv `{}` (`{}`): {err}", dir.display(), cfg.display()),
            format!("`wasipy runtime install {id}`, or recreate the venv"),
        ),
    }
    let python = dir.join("bin").join("python");
    if !python.is_file() {
        return report.problem(
            format!("`{}` is missing", python.display()),
            format!("`wasipy venv {}` restores it", dir.display()),
        );
    }
    let site = std::fs::read_dir(dir.join("lib"))
        .ok()
        .and_then(|mut rd| rd.find_map(|e| e.ok()))
        .map(|e| e.path().join("site-packages"));
    match site {
        Some(site) if site.join("_wasipy.pth").is_file() => report.ok("guest shims are installed"),
        _ => report.problem(
            format!(
                "`{}` lacks wasipy's guest shims (_wasipy.pth)",
                dir.display()
            ),
            format!("`wasipy venv {}` restores them", dir.display()),
        ),
    }
    check_runs(report, &python, dir);
}

/// Runs the venv's python once: it must start, with the venv as `sys.prefix`.
fn check_runs(report: &mut Report, python: &Path, dir: &Path) {
    let out = std::process::Command::new(python)
        .args(["-c", "import sys; print(sys.prefix)"])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let prefix = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let expected = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            if Path::new(&prefix) == expected {
                report.ok(format!(
                    "`{}` runs, sys.prefix is the venv",
                    python.display()
                ));
            } else {
                report.problem(
                    format!("`{}` runs but sys.prefix is `{prefix}`", python.display()),
                    format!("`wasipy venv {}` rewrites the venv's files", dir.display()),
                );
            }
        }
        Ok(out) => report.problem(
            format!(
                "`{}` fails: {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "see the message above",
        ),
        Err(err) => report.problem(
            format!("cannot run `{}`: {err}", python.display()),
            "check its permissions",
        ),
    }
}
