//! Helpers shared by the engine's integration tests: fixture sites in temporary folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use atelier_generator::{BuildOptions, BuildReport, Site};

/// A site in a temporary folder.
pub struct TestSite {
    pub dir: tempfile::TempDir,
}

impl TestSite {
    /// Copies a committed fixture site.
    pub fn fixture(name: &str) -> TestSite {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&src, dir.path());
        TestSite { dir }
    }

    /// A site made of the given files.
    pub fn with_files(files: &[(&str, &str)]) -> TestSite {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = TestSite { dir };
        for (path, text) in files {
            site.write(path, text);
        }
        site
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn options(&self) -> BuildOptions {
        BuildOptions::new(self.root())
    }

    pub fn build(&self) -> (Site, BuildReport) {
        match atelier_generator::build(self.options()) {
            Ok(x) => x,
            Err(e) => panic!("build failed:\n{e}"),
        }
    }

    pub fn build_err(&self) -> atelier_generator::Error {
        match atelier_generator::build(self.options()) {
            Ok(_) => panic!("build should have failed"),
            Err(e) => e,
        }
    }

    pub fn public(&self, rel: &str) -> PathBuf {
        self.root().join("public").join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.public(rel)).unwrap_or_else(|e| panic!("public/{rel}: {e}"))
    }

    /// Every output file, relative, sorted.
    pub fn outputs(&self) -> Vec<String> {
        let base = self.root().join("public");
        let mut out: Vec<String> = walkdir::WalkDir::new(&base)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(&base).unwrap().to_string_lossy().replace('\\', "/"))
            .collect();
        out.sort();
        out
    }
}

pub fn copy_dir(src: &Path, dest: &Path) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let target = dest.join(entry.path().strip_prefix(src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The value of `key=` on its own line in a rendered fixture page, HTML escapes of `/` undone
/// (Tera escapes `/` in `{{ }}`, as it does under Zola).
pub fn field(text: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix).map(unescape))
        .unwrap_or_else(|| panic!("no `{key}=` line in:\n{text}"))
}

/// Undoes Tera's escaping of `/`.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
}
