//! A deterministic stand-in for the fuzz target in CI: thousands of mutated content files
//! through every parser; none may panic. (`cargo fuzz run content` explores further.)

fn next(state: &mut u64) -> u64 {
    // xorshift64*: small, seeded, reproducible.
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

const PIECES: &[&str] = &[
    "+++",
    "\n",
    "title = \"é\"",
    "date = 2024-05-01",
    "[taxonomies]",
    "[extra]",
    "[[extra.sizes]]",
    "price = \"1\"",
    "{{",
    "}}",
    "{%",
    "%}",
    "{% end %}",
    "{{ f(a=1, b=\"x\", c=[1,'2']) }}",
    "{{/*",
    "*/}}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "'",
    "`",
    "<!-- more -->",
    "<!--",
    "-->",
    "# ",
    "## h {#id}",
    "[l](@/a.md#x)",
    "[l](@/",
    "](http://x)",
    "[^1]",
    "[^1]: n",
    "| a |\n|---|\n",
    "- [x] ",
    "~~",
    "```",
    "<div>",
    "</p>",
    "\u{0}",
    "🙂",
    "ç",
    "\r\n",
    " ",
    "=",
];

#[test]
fn random_content_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..4000 {
        let n = (next(&mut state) % 24) as usize;
        let mut text = String::new();
        for _ in 0..n {
            let piece = PIECES[(next(&mut state) % PIECES.len() as u64) as usize];
            text.push_str(piece);
        }
        atelier_generator::markdown::exercise(&text);
    }
}
