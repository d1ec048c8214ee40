//! `[markdown.highlighting]`: fenced code highlighted by giallo (the highlighter of Zola 0.22,
//! with its bundled grammars and themes), either with inline styles or with `z-` classes and
//! their stylesheets written into the site's `static/`, as Zola 0.22.1 writes them.

use std::sync::OnceLock;

use giallo::{HighlightOptions, HtmlRenderer, Registry, ThemeVariant};

use crate::config::HighlightingConfig;

/// The class prefix of class mode, as Zola's.
const PREFIX: &str = "z-";

static REGISTRY: OnceLock<Result<Registry, String>> = OnceLock::new();

/// The bundled grammars and themes, loaded once (decompressed on first use).
fn registry() -> Result<&'static Registry, String> {
    REGISTRY
        .get_or_init(|| {
            let mut r = Registry::builtin().map_err(|e| format!("the highlighter's grammars: {e}"))?;
            r.link_grammars();
            Ok(r)
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn themes(cfg: &HighlightingConfig) -> Result<ThemeVariant<&str>, String> {
    match (&cfg.theme, &cfg.light_theme, &cfg.dark_theme) {
        (Some(t), None, None) => Ok(ThemeVariant::Single(t.as_str())),
        (None, Some(light), Some(dark)) => Ok(ThemeVariant::Dual { light: light.as_str(), dark: dark.as_str() }),
        _ => Err("[markdown.highlighting] needs either `theme`, or both `light_theme` and `dark_theme`".into()),
    }
}

fn class_mode(cfg: &HighlightingConfig) -> Result<bool, String> {
    match cfg.style.as_deref() {
        None | Some("inline") => Ok(false),
        Some("class") => Ok(true),
        Some(other) => Err(format!("[markdown.highlighting] style `{other}` is not \"inline\" or \"class\"")),
    }
}

/// Checks the settings (themes known, style valid) before any page is rendered.
pub fn check(cfg: &HighlightingConfig) -> Result<(), String> {
    class_mode(cfg)?;
    let reg = registry()?;
    let names = match themes(cfg)? {
        ThemeVariant::Single(t) => vec![t],
        ThemeVariant::Dual { light, dark } => vec![light, dark],
    };
    for name in names {
        if !reg.contains_theme(name) {
            return Err(format!("[markdown.highlighting]: there is no theme `{name}` (giallo's themes are VS Code's: github-dark, one-dark-pro, catppuccin-latte, …)"));
        }
    }
    Ok(())
}

/// One fenced block as HTML: `info` is the fence's text after the backticks
/// (`rust,linenos,hl_lines=2`); an unknown language is shown as plain text.
pub fn render(info: &str, code: &str, cfg: &HighlightingConfig) -> Result<String, String> {
    let fence = giallo::parse_markdown_fence(info);
    let options = HighlightOptions::new(&fence.lang, themes(cfg)?).fallback_to_plain(true);
    let highlighted = registry()?.highlight(code, &options).map_err(|e| e.to_string())?;
    // The fence's other options (`name=hello.py`) become data-* attributes of <code>.
    let renderer =
        HtmlRenderer { css_class_prefix: class_mode(cfg)?.then(|| PREFIX.to_string()), other_metadata: fence.rest };
    Ok(renderer.render(&highlighted, &fence.options))
}

/// In class mode, writes the theme's classes into the site's `static/` as Zola 0.22.1 does:
/// `giallo.css`, or `giallo-light.css` and `giallo-dark.css` for two themes (a file is rewritten
/// only when its text changes, so `serve` does not see its own writes as edits).
pub fn write_stylesheets(cfg: &HighlightingConfig, static_dir: &std::path::Path) -> Result<(), String> {
    if !class_mode(cfg)? {
        return Ok(());
    }
    let reg = registry()?;
    let sheets = match themes(cfg)? {
        ThemeVariant::Single(t) => vec![("giallo.css", t)],
        ThemeVariant::Dual { light, dark } => vec![("giallo-light.css", light), ("giallo-dark.css", dark)],
    };
    for (file, theme) in sheets {
        let css = reg.generate_css(theme, PREFIX).map_err(|e| e.to_string())?;
        let path = static_dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(css.as_str()) {
            std::fs::create_dir_all(static_dir)
                .and_then(|_| std::fs::write(&path, css))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}
