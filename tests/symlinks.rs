//! Host paths through absolute symlinks mean the same thing inside the guest: a venv reached
//! through one is a venv, files read, list and stat through them as on the host, and in a
//! sandbox a link resolves by the guest's view (inside what it was given, or refused).

mod common;

use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;

/// `root/real/proj` holding a file, and `root/link -> root/real` (an absolute link).
fn linked_tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("real/proj/pkg")).unwrap();
    std::fs::write(root.join("real/proj/f.txt"), "through the link").unwrap();
    symlink(root.join("real"), root.join("link")).unwrap();
    (tmp, root)
}

#[test]
fn a_venv_under_an_absolute_symlink_is_a_venv_and_pip_installs_into_it() {
    ensure_runtime();
    let (_tmp, root) = linked_tree();
    let venv = root.join("link/proj/.venv");
    run_ok(&mut venv_command(&venv, &[]));
    let typed = venv.display().to_string();
    let out = run_ok(
        python(&venv)
            .args(["-c", "import sys; print(sys.prefix); print(sys.executable)"])
            .current_dir(root.join("link/proj")),
    );
    assert_eq!(out, format!("{typed}\n{typed}/bin/python\n"));
    let cache = tempfile::tempdir().unwrap();
    run_ok(
        python(&venv)
            .args(["-m", "pip", "install", "-q", "six"])
            .env("PIP_CACHE_DIR", cache.path())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    let out = run_ok(python(&venv).args(["-c", "import six; print(six.__file__)"]));
    assert!(out.starts_with(&format!("{typed}/lib/")), "{out}");
    assert!(root.join("real/proj/.venv/pyvenv.cfg").exists());
}

#[test]
fn files_read_list_and_stat_through_absolute_symlinks_as_on_the_host() {
    let venv = TestVenv::new();
    let (_tmp, root) = linked_tree();
    let zone = root.join("zoneinfo");
    std::fs::write(&zone, "TZif").unwrap();
    symlink(&zone, root.join("localtime")).unwrap(); // made like /etc/localtime
    symlink(root.join("loop-b"), root.join("loop-a")).unwrap();
    symlink(root.join("loop-a"), root.join("loop-b")).unwrap();
    let code = r#"
import errno, os, sys
root = sys.argv[1]
link = os.path.join(root, "link")
print(open(link + "/proj/f.txt").read())
print(sorted(os.listdir(link + "/proj")))
print(os.stat(link + "/proj/f.txt").st_size, os.lstat(link).st_mode >> 12 == 0o12)
print(os.path.realpath(link + "/proj/f.txt") == os.path.join(root, "real/proj/f.txt"))
print(os.readlink(link) == os.path.join(root, "real"), os.path.exists(link + "/proj"))
print(os.path.isdir(link + "/proj/.."), sorted(os.listdir(link + "/proj/..")))
print(open(os.path.join(root, "localtime")).read())
with open(link + "/proj/new.txt", "w") as f:
    f.write("written")
os.mkdir(link + "/proj/d"); os.rename(link + "/proj/d", link + "/proj/e"); os.rmdir(link + "/proj/e")
os.symlink(os.path.join(root, "zoneinfo"), link + "/proj/abs")
print(open(link + "/proj/abs").read(), os.readlink(link + "/proj/abs") == os.path.join(root, "zoneinfo"))
os.unlink(link + "/proj/abs")
try:
    open(os.path.join(root, "loop-a"))
except OSError as e:
    print("loop", e.errno == errno.ELOOP)
sys.path.insert(0, link + "/proj")
open(link + "/proj/pkg/__init__.py", "w").write("NAME = 'imported through the link'\n")
import pkg
print(pkg.NAME)
"#;
    let out = run_ok(venv.python().args(["-c", code]).arg(&root));
    assert_eq!(
        out,
        "through the link\n['f.txt', 'pkg']\n16 True\nTrue\nTrue True\nTrue ['proj']\nTZif\n\
         TZif True\nloop True\nimported through the link\n"
    );
    let written = std::fs::read_to_string(root.join("real/proj/new.txt")).unwrap();
    assert_eq!(written, "written");
    assert!(!root.join("real/proj/abs").exists());
}

/// Each attempt prints `name ok VALUE` or `name refused ERRNO-NAME`. A link's absolute
/// target is a path of the guest's view: `/tmp/...` is the sandbox's private temp dir.
const SANDBOXED: &str = r#"
import errno, os, sys
work = os.getcwd()
attempts = {
    "inside": lambda: open("in-link/f.txt").read(),
    "dot-dot after a link": lambda: sorted(os.listdir("in-link/..")),
    "chain out": lambda: open("chain/secret.txt").read(),
    "straight out": lambda: open("out-link").read(),
    "dot-dot out": lambda: open("in-link/../../secret.txt").read(),
    "loop": lambda: open("loop-a").read(),
    "make an absolute link": lambda: os.symlink("/etc/passwd", "made"),
}
open("/tmp/wasipy-private.txt", "w").write("private")
attempts["private tmp"] = lambda: open("tmp-link").read()
for name, attempt in attempts.items():
    try:
        print(name, "ok", attempt())
    except OSError as e:
        print(name, "refused", errno.errorcode.get(e.errno))
"#;

#[test]
fn in_a_sandbox_links_resolve_by_the_guests_view() {
    ensure_runtime();
    // Not under /tmp, which the sandbox replaces with a private one.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let work = root.join("work");
    std::fs::create_dir_all(work.join("data")).unwrap();
    std::fs::write(work.join("data/f.txt"), "inside").unwrap();
    std::fs::write(root.join("secret.txt"), "secret").unwrap();
    let link = |target: &Path, name: &str| symlink(target, work.join(name)).unwrap();
    link(&work.join("data"), "in-link");
    link(&root.join("secret.txt"), "out-link");
    // A link to a link that leaves: the first stays inside, the second does not.
    link(&work.join("hop"), "chain");
    link(&root, "hop");
    link(&work.join("loop-b"), "loop-a");
    link(&work.join("loop-a"), "loop-b");
    link(Path::new("/tmp/wasipy-private.txt"), "tmp-link");
    let venv = work.join(".venv");
    run_ok(&mut venv_command(&venv, &["--sandbox", "--without-pip"]));
    let out = run_ok(
        store_command(venv.join("bin/python"))
            .args(["-c", SANDBOXED])
            .current_dir(&work),
    );
    // A checkout under /tmp puts `root` there too: then the links' absolute targets name the
    // sandbox's private /tmp, where they find nothing, instead of leading out of the mounts.
    let out_errno = if root.starts_with("/tmp") {
        "ENOENT"
    } else {
        "EPERM"
    };
    assert_eq!(
        out,
        format!(
            "inside ok inside\n\
             dot-dot after a link ok ['.venv', 'chain', 'data', 'hop', 'in-link', 'loop-a', 'loop-b', 'out-link', 'tmp-link']\n\
             chain out refused {out_errno}\nstraight out refused {out_errno}\ndot-dot out refused {out_errno}\n\
             loop refused ELOOP\nmake an absolute link refused EPERM\nprivate tmp ok private\n"
        ),
    );
    assert!(!work.join("made").exists());
}
