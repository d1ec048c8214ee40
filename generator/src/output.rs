//! The output folder: files are written only when their bytes change, files no build produces
//! any more are removed, and the folder itself is never wiped. Which files are the engine's is
//! kept beside the folder (`.public.atelier-files` next to `public/`), not in it: whatever is in
//! the folder is published, and only files the engine wrote are ever removed.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The marker earlier versions wrote into the folder: still read as "ours", then removed.
const LEGACY_MARKER: &str = ".atelier-output";

/// The output folder.
#[derive(Debug)]
pub struct Output {
    dir: PathBuf,
    manifest: PathBuf,
    /// Files the engine has written there and not removed.
    files: Mutex<BTreeSet<String>>,
    /// The folder was marked ours wholesale by an earlier version: every file in it is ours.
    legacy: bool,
    changed: AtomicBool,
    written: AtomicUsize,
    unchanged: AtomicUsize,
}

/// Where the list of the engine's files in `dir` is kept: beside it.
pub fn manifest_path(dir: &Path) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "output".into());
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(format!(".{name}.atelier-files")),
        _ => PathBuf::from(format!(".{name}.atelier-files")),
    }
}

impl Output {
    /// Opens the output folder, creating it; refuses a non-empty folder that is not ours unless
    /// `force` (and even then removes only what it writes itself).
    pub fn open(dir: &Path, force: bool) -> Result<Output> {
        let manifest = manifest_path(dir);
        let legacy = dir.join(LEGACY_MARKER).is_file();
        let known = std::fs::read_to_string(&manifest).ok();
        if dir.is_dir() && known.is_none() && !legacy && !force {
            let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            if entries.next().is_some() {
                return Err(Error::ForeignOutput(dir.to_path_buf()));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files: BTreeSet<String> = known.iter().flat_map(|t| t.lines()).map(str::to_string).collect();
        if legacy {
            let _ = std::fs::remove_file(dir.join(LEGACY_MARKER));
        }
        Ok(Output {
            dir: dir.to_path_buf(),
            manifest,
            files: Mutex::new(files),
            legacy,
            changed: AtomicBool::new(legacy || known.is_none()),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
        })
    }

    fn note(&self, rel: &str) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if !files.contains(rel) {
            files.insert(rel.to_string());
            self.changed.store(true, Ordering::Relaxed);
        }
    }

    /// Writes the list of the engine's files beside the folder, if it changed.
    pub fn save(&self) -> Result<()> {
        if !self.changed.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::with_capacity(files.len() * 32);
        for f in files.iter() {
            text.push_str(f);
            text.push('\n');
        }
        let part = self.manifest.with_extension("atelier-files-part");
        std::fs::write(&part, text)
            .and_then(|_| std::fs::rename(&part, &self.manifest))
            .map_err(|e| Error::io(&self.manifest, e))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` at a relative path unless the file already holds them; says whether it wrote.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<bool> {
        self.note(rel);
        let path = self.dir.join(rel);
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.len() == bytes.len() as u64 && same_bytes(&path, bytes) {
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                return Ok(false);
            }
            // A file replaced while `serve` may be sending it: written aside, then renamed, so a
            // reader gets the old page or the new one, never half of one.
            let part = self.dir.join(format!("{rel}.atelier-part"));
            std::fs::write(&part, bytes).map_err(|e| Error::io(&part, e))?;
            std::fs::rename(&part, &path).map_err(|e| Error::io(&path, e))?;
            self.written.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        } else if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Writes a file as `fill` streams it, without holding it in memory (a search index can be
    /// hundreds of megabytes); like [`Output::write`], an unchanged file is left as it was.
    pub fn write_stream(
        &self,
        rel: &str,
        fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<bool> {
        use std::io::Write;
        self.note(rel);
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // The part file is removed whatever happens unless it becomes the file (nothing half
        // written stays in the published folder).
        struct Part(PathBuf, bool);
        impl Drop for Part {
            fn drop(&mut self) {
                if !self.1 {
                    let _ = std::fs::remove_file(&self.0);
                }
            }
        }
        let mut part = Part(self.dir.join(format!("{rel}.atelier-part")), false);
        let file = std::fs::File::create(&part.0).map_err(|e| Error::io(&part.0, e))?;
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
        let filled = fill(&mut w).and_then(|_| w.flush());
        drop(w);
        filled.map_err(|e| Error::io(&part.0, e))?;
        if same_files(&part.0, &path) {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        std::fs::rename(&part.0, &path).map_err(|e| Error::io(&path, e))?;
        part.1 = true;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Copies a file unless the copy already has the same bytes.
    pub fn copy(&self, src: &Path, rel: &str) -> Result<bool> {
        self.note(rel);
        let dest = self.dir.join(rel);
        let src_meta = std::fs::metadata(src).map_err(|e| Error::io(src, e))?;
        if let Ok(meta) = std::fs::metadata(&dest) {
            if meta.len() == src_meta.len() {
                let same = match (std::fs::read(src), std::fs::read(&dest)) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                };
                if same {
                    self.unchanged.fetch_add(1, Ordering::Relaxed);
                    return Ok(false);
                }
            }
        } else if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::copy(src, &dest).map_err(|e| Error::io(src, e))?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Removes a file that is no longer produced (and its folder when left empty).
    pub fn remove(&self, rel: &str) {
        if self.files.lock().unwrap_or_else(|e| e.into_inner()).remove(rel) {
            self.changed.store(true, Ordering::Relaxed);
        }
        let path = self.dir.join(rel);
        if std::fs::remove_file(&path).is_ok() {
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d == self.dir || std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
    }

    /// Removes every file of the engine's that is not in `keep` (relative paths); returns how
    /// many went. Files it did not write are left alone.
    pub fn prune(&self, keep: &HashSet<String>) -> usize {
        let mut ours: BTreeSet<String> = self.files.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if self.legacy {
            // An earlier version marked the whole folder as its own.
            for entry in walkdir::WalkDir::new(&self.dir).into_iter().filter_map(|e| e.ok()) {
                if entry.file_type().is_file() {
                    let rel = entry.path().strip_prefix(&self.dir).unwrap_or(entry.path());
                    ours.insert(
                        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
                    );
                }
            }
        }
        let stale: Vec<String> = ours.into_iter().filter(|rel| !keep.contains(rel)).collect();
        for rel in &stale {
            self.remove(rel);
        }
        stale.len()
    }

    /// Files written since opened.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::Relaxed)
    }

    /// Files left as they were since opened.
    pub fn unchanged(&self) -> usize {
        self.unchanged.load(Ordering::Relaxed)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Kept whatever way the build ended: a lost list would make the folder look foreign.
        let _ = self.save();
    }
}

/// The output file of a site path: `/a/b/` → `a/b/index.html`; `/a/x.html` → `a/x.html`.
pub fn file_for_path(path: &str) -> String {
    let p = path.trim_start_matches('/');
    let last = p.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if !p.ends_with('/') && (last.ends_with(".html") || last.ends_with(".xml") || last.ends_with(".htm")) {
        p.to_string()
    } else if p.trim_end_matches('/').is_empty() {
        "index.html".to_string()
    } else {
        format!("{}/index.html", p.trim_end_matches('/'))
    }
}

/// Whether a file holds exactly `bytes`, read a piece at a time (a search index can be hundreds
/// of megabytes: reading it whole beside the new one doubled a build's memory).
fn same_bytes(path: &Path, bytes: &[u8]) -> bool {
    std::fs::File::open(path).is_ok_and(|file| same_stream(file, bytes))
}

/// Whether two files hold the same bytes, read a piece at a time.
fn same_files(a: &Path, b: &Path) -> bool {
    let same_len = matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(x), Ok(y)) if x.len() == y.len());
    same_len
        && match (std::fs::File::open(a), std::fs::File::open(b)) {
            (Ok(fa), Ok(fb)) => same_stream(fa, fb),
            _ => false,
        }
}

/// Whether two readers give the same bytes to their ends, compared 64 KiB at a time.
fn same_stream(mut a: impl std::io::Read, mut b: impl std::io::Read) -> bool {
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = match a.read(&mut ba) {
            Ok(0) => return b.read(&mut bb).is_ok_and(|n| n == 0),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        if b.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_files() {
        assert_eq!(file_for_path("/"), "index.html");
        assert_eq!(file_for_path("/a/b/"), "a/b/index.html");
        assert_eq!(file_for_path("/old.html"), "old.html");
        assert_eq!(file_for_path("old/page"), "old/page/index.html");
    }

    #[test]
    fn writes_only_changes_and_refuses_foreign_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Output::open(tmp.path(), false).unwrap();
        assert!(out.write("a/index.html", b"x").unwrap());
        assert!(!out.write("a/index.html", b"x").unwrap());
        assert!(out.write("a/index.html", b"y").unwrap());
        // Compared piecewise: a longer or shorter file with the same start is a change.
        assert!(out.write("a/index.html", &[b'y'; 70_000]).unwrap());
        assert!(!out.write("a/index.html", &[b'y'; 70_000]).unwrap());
        assert!(out.write_stream("a/index.html", |w| w.write_all(&[b'y'; 69_999])).unwrap());
        assert!(!out.write_stream("a/index.html", |w| w.write_all(&[b'y'; 69_999])).unwrap());
        assert!(!tmp.path().join("a/index.html.atelier-part").exists());
        let keep: HashSet<String> = HashSet::new();
        assert_eq!(out.prune(&keep), 1);
        assert!(!tmp.path().join("a").exists());

        let foreign = tempfile::tempdir().unwrap();
        std::fs::write(foreign.path().join("mine.txt"), "x").unwrap();
        assert!(matches!(Output::open(foreign.path(), false), Err(Error::ForeignOutput(_))));
        assert!(Output::open(foreign.path(), true).is_ok());
    }
}
