//! Feeds arbitrary text through everything that reads an editor's file: the `+++` split, the
//! front-matter parser, the shortcode parser and the Markdown renderer. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        atelier_generator::markdown::exercise(text);
    }
});
