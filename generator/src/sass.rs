//! `compile_sass`: every `.scss` and `.sass` file under the theme's and the site's `sass/`
//! folders, except partials (a file or folder whose name starts with `_`), compiled as Zola
//! compiles them (grass, compressed) into a `.css` file at the same path in the output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Error, Result};

/// The stylesheets to write: output path (`css/site.css`) → CSS.
pub fn compile(root: &Path, theme: Option<&str>) -> Result<BTreeMap<String, String>> {
    let mut dirs = Vec::new();
    if let Some(t) = theme {
        dirs.push(root.join("themes").join(t).join("sass"));
    }
    dirs.push(root.join("sass"));
    let mut out = BTreeMap::new();
    let mut diagnostics = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        // Within one folder, `a.scss` and `a.sass` would both be `a.css`.
        let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
        let walk = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('_'));
        for entry in walk.filter_map(|e| e.ok()).filter(|e| e.file_type().is_file()) {
            let path = entry.path();
            let ext = path.extension().map(|e| e.to_string_lossy().to_string()).unwrap_or_default();
            if ext != "scss" && ext != "sass" {
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(path).with_extension("css");
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if let Some(other) = sources.insert(rel.clone(), path.to_path_buf()) {
                diagnostics.push(Diagnostic::file(
                    path,
                    format!("both {} and this file would be compiled to {rel}", other.display()),
                ));
                continue;
            }
            let syntax = if ext == "sass" { grass::InputSyntax::Sass } else { grass::InputSyntax::Scss };
            let options =
                grass::Options::default().style(grass::OutputStyle::Compressed).input_syntax(syntax).load_path(dir);
            match grass::from_path(path, &options) {
                Ok(css) => {
                    out.insert(rel, css);
                }
                Err(e) => diagnostics.push(Diagnostic::file(path, format!("Sass: {}", e.to_string().trim()))),
            }
        }
    }
    if diagnostics.is_empty() {
        Ok(out)
    } else {
        Err(Error::Site(diagnostics))
    }
}
