//! The filters Zola adds to Tera's: `markdown`, `base64_encode`, `base64_decode`,
//! `regex_replace`, `num_format`.

use std::collections::HashMap;

use serde_json::Value;
use tera::{Result as TeraResult, Tera};

use super::SiteHandle;
use crate::markdown::render_plain;

fn text<'a>(v: &'a Value, filter: &str) -> TeraResult<&'a str> {
    v.as_str().ok_or_else(|| tera::Error::msg(format!("`{filter}` applies to text, found {v}")))
}

/// Registers the filters.
pub fn register(tera: &mut Tera, site: &SiteHandle) {
    let h = site.clone();
    tera.register_filter("markdown", move |v: &Value, args: &HashMap<String, Value>| {
        let view = h.view();
        let inline = args.get("inline").and_then(Value::as_bool).unwrap_or(false);
        render_plain(text(v, "markdown")?, &view.config, &view.permalinks, inline)
            .map(Value::String)
            .map_err(|e| tera::Error::msg(format!("`markdown`: {e}")))
    });
    tera.register_filter("base64_encode", |v: &Value, _: &HashMap<String, Value>| {
        Ok(Value::String(base64_encode(text(v, "base64_encode")?.as_bytes())))
    });
    tera.register_filter("base64_decode", |v: &Value, _: &HashMap<String, Value>| {
        let bytes =
            base64_decode(text(v, "base64_decode")?).ok_or_else(|| tera::Error::msg("`base64_decode`: not base64"))?;
        String::from_utf8(bytes).map(Value::String).map_err(|_| tera::Error::msg("`base64_decode`: not UTF-8 text"))
    });
    tera.register_filter("regex_replace", |v: &Value, args: &HashMap<String, Value>| {
        let s = text(v, "regex_replace")?;
        let pattern = args
            .get("pattern")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("`regex_replace` needs `pattern`"))?;
        let rep =
            args.get("rep").and_then(Value::as_str).ok_or_else(|| tera::Error::msg("`regex_replace` needs `rep`"))?;
        let re = regex::Regex::new(pattern).map_err(|e| tera::Error::msg(format!("`regex_replace`: {e}")))?;
        Ok(Value::String(re.replace_all(s, rep).into_owned()))
    });
    let h = site.clone();
    tera.register_filter("num_format", move |v: &Value, args: &HashMap<String, Value>| {
        let n =
            v.as_i64().ok_or_else(|| tera::Error::msg(format!("`num_format` applies to whole numbers, found {v}")))?;
        let locale = args
            .get("locale")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| h.view().config.default_language.clone());
        Ok(Value::String(group_digits(n, &locale)))
    });
}

/// `1234567` → `1,234,567` (English) or `1 234 567` (French and most of Europe, narrow no-break space).
fn group_digits(n: i64, locale: &str) -> String {
    let sep = match locale.split(['-', '_']).next().unwrap_or("en") {
        "en" | "ja" | "zh" | "ko" | "he" => ",",
        "de" | "es" | "it" | "nl" | "pt" | "da" | "id" => ".",
        _ => "\u{202f}",
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "f", "fo", "foo", "foob", "Atelier Arôme"] {
            assert_eq!(base64_decode(&base64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
    }

    #[test]
    fn digits() {
        assert_eq!(group_digits(1234567, "en"), "1,234,567");
        assert_eq!(group_digits(-1000, "de"), "-1.000");
        assert_eq!(group_digits(999, "fr"), "999");
    }
}
