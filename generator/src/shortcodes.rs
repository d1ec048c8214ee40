//! Shortcode parsing: `{{ name(arg=1) }}` inline and `{% name(arg="x") %}body{% end %}` with a
//! body; `{{/* … */}}` and `{%/* … */%}` write the call literally. Parsing is pure so it can be
//! fuzzed; rendering the templates happens in `markdown`.

use serde_json::{Map, Number, Value};

/// A piece of a content body.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment<'a> {
    /// Plain Markdown.
    Text(std::borrow::Cow<'a, str>),
    /// A shortcode call.
    Call(Call),
}

/// One shortcode call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The shortcode's name: its template is `shortcodes/NAME.html` or `.md`.
    pub name: String,
    /// Its arguments.
    pub args: Map<String, Value>,
    /// The body, for `{% %}` calls.
    pub body: Option<String>,
    /// Byte offset of the call in the text.
    pub offset: usize,
}

/// A malformed call, with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where in the body.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Whether the text may hold shortcodes at all (the common case is no: skip parsing).
pub fn may_contain(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Splits a body into text and shortcode calls.
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest_start = 0;
    let mut i = 0;
    while i < text.len() {
        // Jump to the next `{{` or `{%`; everything before it is text.
        let Some(next) = text[i..].find("{{").into_iter().chain(text[i..].find("{%")).min() else {
            break;
        };
        i += next;
        let open = &text[i..];
        let inline = open.starts_with("{{");
        let block = !inline;
        let close = if inline { "}}" } else { "%}" };
        let after = &open[2..];
        // Escaped form: written out literally without the comment markers.
        if let Some(inner) = after.trim_start().strip_prefix("/*") {
            let Some(end) = inner.find(&format!("*/{close}")) else {
                i += 2;
                continue;
            };
            plain.push_str(&text[rest_start..i]);
            plain.push_str(&open[..2]);
            plain.push_str(&inner[..end]);
            plain.push_str(close);
            let consumed = (open.len() - inner.len()) + end + 2 + close.len();
            i += consumed;
            rest_start = i;
            continue;
        }
        let Some(call) = try_call_head(after) else {
            // `{{ something }}` that is not a call is left as text, like Zola does.
            i += 2;
            continue;
        };
        let (name, args_text, head_len) = call;
        let Some(close_at) = after[head_len..].find(close) else {
            return Err(ParseError { offset: i, message: format!("shortcode `{name}` is not closed with `{close}`") });
        };
        if !after[head_len..head_len + close_at].trim().is_empty() {
            return Err(ParseError {
                offset: i,
                message: format!("unexpected text after the arguments of shortcode `{name}`; expected `{close}`"),
            });
        }
        let args =
            parse_args(args_text).map_err(|m| ParseError { offset: i, message: format!("shortcode `{name}`: {m}") })?;
        let mut end = i + 2 + head_len + close_at + 2;
        let mut body = None;
        if block {
            let Some((body_text, after_end)) = find_end(&text[end..]) else {
                return Err(ParseError {
                    offset: i,
                    message: format!("shortcode `{name}` opened with {{% %}} has no matching {{% end %}}"),
                });
            };
            // Zola hands the body over trimmed of the whitespace around it.
            body = Some(body_text.trim().to_string());
            end += after_end;
        }
        plain.push_str(&text[rest_start..i]);
        if !plain.is_empty() {
            out.push(Segment::Text(std::mem::take(&mut plain).into()));
        }
        out.push(Segment::Call(Call { name: name.to_string(), args, body, offset: i }));
        i = end;
        rest_start = i;
    }
    plain.push_str(&text[rest_start.min(text.len())..]);
    if !plain.is_empty() {
        out.push(Segment::Text(plain.into()));
    }
    Ok(out)
}

/// `  name(args)` → (name, args, length up to and including the closing parenthesis).
fn try_call_head(after: &str) -> Option<(&str, &str, usize)> {
    let trimmed = after.trim_start();
    let lead = after.len() - trimmed.len();
    let name_len = trimmed.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    if name_len == 0 || trimmed.as_bytes().get(name_len) != Some(&b'(') {
        return None;
    }
    let name = &trimmed[..name_len];
    // Find the matching parenthesis, skipping over strings.
    let args_start = name_len + 1;
    let mut depth = 1;
    let mut quote: Option<char> = None;
    for (j, c) in trimmed[args_start..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => {
                depth -= 1;
                if depth == 0 {
                    if c != ')' {
                        return None;
                    }
                    let args = &trimmed[args_start..args_start + j];
                    return Some((name, args, lead + args_start + j + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The body up to `{% end %}`, and the length consumed including that tag.
fn find_end(text: &str) -> Option<(&str, usize)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("{%") {
        let at = from + pos;
        let inner = &text[at + 2..];
        if let Some(close) = inner.find("%}") {
            if inner[..close].trim() == "end" {
                return Some((&text[..at], at + 2 + close + 2));
            }
        }
        from = at + 2;
    }
    None
}

/// `a=1, b="x", c=[1, 2], d=true` → a map of JSON values.
pub fn parse_args(text: &str) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    let mut p = Cursor { s: text, i: 0 };
    p.ws();
    while !p.done() {
        let key = p.ident().ok_or_else(|| format!("expected an argument name at `{}`", p.rest_preview()))?;
        p.ws();
        if !p.eat('=') {
            return Err(format!("expected `=` after argument `{key}`"));
        }
        p.ws();
        let value = p.value()?;
        if map.insert(key.to_string(), value).is_some() {
            return Err(format!("argument `{key}` is given twice"));
        }
        let before = p.i;
        p.ws();
        // Zola takes arguments apart by commas or by whitespace alone.
        if !p.eat(',') && !p.done() && p.i == before {
            return Err(format!("expected `,` between arguments at `{}`", p.rest_preview()));
        }
        p.ws();
    }
    Ok(map)
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn rest_preview(&self) -> String {
        self.rest().chars().take(20).collect()
    }
    fn ws(&mut self) {
        let r = self.rest();
        self.i += r.len() - r.trim_start().len();
    }
    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<&'a str> {
        let r = self.rest();
        let n = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(r.len());
        if n == 0 || r.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.i += n;
        Some(&r[..n])
    }
    fn value(&mut self) -> Result<Value, String> {
        let r = self.rest();
        let Some(first) = r.chars().next() else {
            return Err("expected a value".into());
        };
        match first {
            '"' | '\'' | '`' => {
                let body = &r[1..];
                let end = body.find(first).ok_or_else(|| format!("a string starting with {first} is not closed"))?;
                self.i += end + 2;
                Ok(Value::String(body[..end].to_string()))
            }
            '[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat(']') {
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(']') {
                        break;
                    }
                    if !self.eat(',') {
                        return Err("expected `,` or `]` in an array".into());
                    }
                }
                Ok(Value::Array(items))
            }
            _ => {
                let n = r.find(|c: char| c == ',' || c == ']' || c.is_whitespace()).unwrap_or(r.len());
                let word = &r[..n];
                self.i += n;
                match word {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => {
                        if let Ok(i) = word.parse::<i64>() {
                            Ok(Value::Number(i.into()))
                        } else if let Some(f) = word.parse::<f64>().ok().and_then(Number::from_f64) {
                            Ok(Value::Number(f))
                        } else {
                            Err(format!(
                                "`{word}` is not a value: use a quoted string, a number, true/false or [a, list]"
                            ))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(text: &str) -> Vec<Call> {
        parse(text)
            .unwrap()
            .into_iter()
            .filter_map(|s| match s {
                Segment::Call(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn inline_call_with_args() {
        let c = calls("Hi {{ figure(src=\"a.png\", width=3, ok=true, tags=[\"x\", 1]) }} there");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "figure");
        assert_eq!(c[0].args["src"], "a.png");
        assert_eq!(c[0].args["width"], 3);
        assert_eq!(c[0].args["tags"], serde_json::json!(["x", 1]));
        assert_eq!(c[0].offset, 3);
    }

    #[test]
    fn body_call() {
        let c = calls("a\n{% aside(title='Note') %}\nSome *text*\n{% end %}\nb");
        assert_eq!(c[0].body.as_deref(), Some("Some *text*"));
        assert_eq!(c[0].args["title"], "Note");
    }

    #[test]
    fn escaped_calls_are_text() {
        let s = parse("x {{/* figure(src=\"a\") */}} y").unwrap();
        assert_eq!(s, vec![Segment::Text("x {{ figure(src=\"a\") }} y".into())]);
    }

    #[test]
    fn non_calls_are_text() {
        let s = parse("a {{ not a call }} b").unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("abc {% aside() %} no end").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(parse("{{ f(a=) }}").is_err());
        assert!(parse("{{ f(a=1b=2) }}").is_err());
        // Whitespace alone separates arguments, as in Zola.
        assert_eq!(calls("{{ f(a=1 b=\"x\") }}")[0].args["b"], "x");
        assert!(parse("{{ f(a=1) x }}").is_err());
    }
}
