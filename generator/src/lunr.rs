//! An elasticlunr index built in a fraction of the memory the `elasticlunr-rs` crate takes, and
//! written as that crate writes it, byte for byte (the golden fixtures compare it with Zola's).
//!
//! The crate keeps every posting under its document's URL as a `String` key of a `BTreeMap`,
//! one map per trie node, and its document store as maps of copied texts: on a shop of 12,000
//! pages that was most of a build's memory. Here documents are numbered in the order of their
//! references (the order the crate's maps write them in), postings are `(number, frequency)`
//! pairs, the trie is an arena, and the stored texts are the rows themselves. What is written
//! (its shape, key order, number and string formatting) is serde's writing of the same shapes.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// The words of one document's fields, made ready by the language (tokenized, pipelined).
pub type Tokens = Vec<Vec<String>>;

/// One trie node of a field's inverted index.
#[derive(Default)]
struct Node {
    /// Children by character, in character order.
    children: Vec<(char, u32)>,
    /// (document number, term frequency), sorted by number before writing.
    docs: Vec<(u32, f64)>,
}

/// One field's inverted index: a trie in an arena, node 0 the root.
struct Field {
    nodes: Vec<Node>,
}

impl Field {
    fn new() -> Field {
        Field { nodes: vec![Node::default()] }
    }

    /// As the crate's `add_token`: a document is counted once per token, its frequency replaced.
    fn add(&mut self, doc: u32, token: &str, tf: f64, seen_before: bool) {
        let mut at = 0u32;
        let mut any = false;
        for c in token.chars() {
            any = true;
            let children = &self.nodes[at as usize].children;
            at = match children.binary_search_by_key(&c, |&(k, _)| k) {
                Ok(i) => children[i].1,
                Err(i) => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    self.nodes[at as usize].children.insert(i, (c, id));
                    id
                }
            };
        }
        if !any {
            return;
        }
        let docs = &mut self.nodes[at as usize].docs;
        // Only a reference that came before can already be here.
        if seen_before {
            if let Some(p) = docs.iter_mut().find(|(d, _)| *d == doc) {
                p.1 = tf;
                return;
            }
        }
        docs.push((doc, tf));
    }

    fn finish(&mut self) {
        for n in &mut self.nodes {
            n.docs.sort_by_key(|&(d, _)| d);
        }
    }
}

/// A stored document: its row, and (field position, word count) of each field it has.
type Stored = (usize, Vec<(usize, usize)>);

/// A document as the index stores it: its reference and its fields' texts.
pub struct Doc {
    /// The reference (the page's permalink).
    pub reference: String,
    /// The texts, in the order of the index's fields (fewer when a field is missing).
    pub texts: Vec<String>,
}

/// An index under construction.
pub struct Index {
    fields: Vec<String>,
    /// Fields sorted by name, as the crate's map of fields writes them: (name, position).
    sorted_fields: Vec<(String, usize)>,
    inverted: Vec<Field>,
    /// Document number of each added row, in the order of rows.
    numbers: Vec<u32>,
    /// Whether each row's reference came before it.
    repeated: Vec<bool>,
    /// Each number's document: the last row with that reference and its fields' lengths.
    docs: Vec<Option<Stored>>,
    rows: Vec<Doc>,
}

impl Index {
    /// An index of `fields` over documents whose references are `references`, in row order.
    pub fn new(fields: Vec<String>, references: &[&str]) -> Index {
        let mut sorted: Vec<&str> = references.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut repeated = Vec::with_capacity(references.len());
        let mut seen = vec![false; sorted.len()];
        let numbers: Vec<u32> = references
            .iter()
            .map(|r| {
                let n = sorted.binary_search(r).unwrap_or(0);
                repeated.push(seen[n]);
                seen[n] = true;
                n as u32
            })
            .collect();
        let mut sorted_fields: Vec<(String, usize)> = fields.iter().cloned().zip(0..).collect();
        sorted_fields.sort();
        Index {
            inverted: fields.iter().map(|_| Field::new()).collect(),
            docs: (0..sorted.len()).map(|_| None).collect(),
            fields,
            sorted_fields,
            numbers,
            repeated,
            rows: Vec::with_capacity(references.len()),
        }
    }

    /// Adds the next row with its fields' words, as the crate's `add_doc` does (the counts of
    /// a document's words run on from one field to the next, as the crate counts them).
    pub fn add(&mut self, doc: Doc, tokens: Tokens) {
        let row = self.rows.len();
        let (number, seen_before) = (self.numbers[row], self.repeated[row]);
        let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        let mut lengths: Vec<(usize, usize)> = Vec::new();
        for (field, words) in tokens.into_iter().enumerate().take(self.fields.len()) {
            // The crate stores a field named as the reference but does not index it.
            if self.fields[field] == "id" {
                continue;
            }
            lengths.push((field, words.len()));
            for w in words {
                *counts.entry(w).or_insert(0) += 1;
            }
            for (word, count) in &counts {
                self.inverted[field].add(number, word, (*count as f64).sqrt(), seen_before);
            }
        }
        // A reference added again keeps the lengths of fields it no longer has (the crate's
        // counts are a map updated field by field).
        if let Some((_, old)) = self.docs[number as usize].take() {
            let mut merged = old;
            for (field, len) in lengths {
                match merged.iter_mut().find(|(f, _)| *f == field) {
                    Some(slot) => slot.1 = len,
                    None => merged.push((field, len)),
                }
            }
            lengths = merged;
        }
        self.docs[number as usize] = Some((row, lengths));
        self.rows.push(doc);
    }

    /// Writes the index as the crate writes it, after `prefix`. `skeleton` is the crate's own
    /// writing of an empty index of the same fields and language: its pipeline, version and
    /// language name are taken from it.
    pub fn write(self, prefix: &str, skeleton: &serde_json::Value) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_to(prefix, skeleton, &mut out)?;
        Ok(out)
    }

    /// Like [`Index::write`], streamed into `w`.
    pub fn write_to(
        mut self,
        prefix: &str,
        skeleton: &serde_json::Value,
        mut w: impl std::io::Write,
    ) -> serde_json::Result<()> {
        for f in &mut self.inverted {
            f.finish();
        }
        w.write_all(prefix.as_bytes()).map_err(serde_json::Error::io)?;
        serde_json::to_writer(w, &Whole { index: &self, skeleton })
    }
}

struct Whole<'a> {
    index: &'a Index,
    skeleton: &'a serde_json::Value,
}

impl Serialize for Whole<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let part = |k: &str| self.skeleton.get(k).cloned().unwrap_or(serde_json::Value::Null);
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("fields", &self.index.fields)?;
        m.serialize_entry("pipeline", &part("pipeline"))?;
        m.serialize_entry("ref", &part("ref"))?;
        m.serialize_entry("version", &part("version"))?;
        m.serialize_entry("index", &Inverted(self.index))?;
        m.serialize_entry("documentStore", &Store(self.index, part("documentStore")))?;
        m.serialize_entry("lang", &part("lang"))?;
        m.end()
    }
}

struct Inverted<'a>(&'a Index);

impl Serialize for Inverted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.0;
        let mut m = s.serialize_map(Some(index.sorted_fields.len()))?;
        for (name, at) in &index.sorted_fields {
            m.serialize_entry(name, &Root(index, *at))?;
        }
        m.end()
    }
}

struct Root<'a>(&'a Index, usize);

impl Serialize for Root<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("root", &NodeView { index: self.0, field: self.1, node: 0 })?;
        m.end()
    }
}

struct NodeView<'a> {
    index: &'a Index,
    field: usize,
    node: u32,
}

impl Serialize for NodeView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let node = &self.index.inverted[self.field].nodes[self.node as usize];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("docs", &Postings(self.index, &node.docs))?;
        m.serialize_entry("df", &(distinct(&node.docs) as i64))?;
        let mut buf = [0u8; 4];
        for &(c, child) in &node.children {
            m.serialize_entry(
                &*c.encode_utf8(&mut buf),
                &NodeView { index: self.index, field: self.field, node: child },
            )?;
        }
        m.end()
    }
}

/// How many different documents a sorted list of postings has.
fn distinct(docs: &[(u32, f64)]) -> usize {
    docs.iter().enumerate().filter(|(i, (d, _))| docs.get(i + 1).is_none_or(|(n, _)| n != d)).count()
}

struct Postings<'a>(&'a Index, &'a [(u32, f64)]);

impl Serialize for Postings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(distinct(self.1)))?;
        for (i, &(doc, tf)) in self.1.iter().enumerate() {
            // Of a document added twice, its last frequency (a map keeps the last insert).
            if self.1.get(i + 1).is_some_and(|(n, _)| *n == doc) {
                continue;
            }
            m.serialize_entry(self.0.reference(doc), &Tf(tf))?;
        }
        m.end()
    }
}

struct Tf(f64);

impl Serialize for Tf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("tf", &self.0)?;
        m.end()
    }
}

impl Index {
    fn reference(&self, doc: u32) -> &str {
        match &self.docs[doc as usize] {
            Some((row, _)) => &self.rows[*row].reference,
            None => "",
        }
    }
}

struct Store<'a>(&'a Index, serde_json::Value);

impl Serialize for Store<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.0;
        let save = self.1.get("save").cloned().unwrap_or(serde_json::Value::Bool(true));
        let count = index.docs.iter().filter(|d| d.is_some()).count();
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("save", &save)?;
        m.serialize_entry("docs", &StoredDocs(index))?;
        m.serialize_entry("docInfo", &DocInfo(index))?;
        m.serialize_entry("length", &count)?;
        m.end()
    }
}

struct StoredDocs<'a>(&'a Index);

impl Serialize for StoredDocs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.0;
        let mut m = s.serialize_map(None)?;
        for (row, _) in index.docs.iter().flatten() {
            m.serialize_entry(&index.rows[*row].reference, &StoredDoc(index, *row))?;
        }
        m.end()
    }
}

struct StoredDoc<'a>(&'a Index, usize);

impl Serialize for StoredDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (index, row) = (self.0, &self.0.rows[self.1]);
        // The crate's map of a document: its fields and `id`, by name.
        let mut entries: Vec<(&str, &str)> = index
            .fields
            .iter()
            .zip(&row.texts)
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .chain(std::iter::once(("id", row.reference.as_str())))
            .collect();
        entries.sort_by_key(|&(k, _)| k);
        entries.dedup_by_key(|&mut (k, _)| k);
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

struct DocInfo<'a>(&'a Index);

impl Serialize for DocInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.0;
        let mut m = s.serialize_map(None)?;
        // The crate counts a document's words only for the fields it has.
        for (row, lengths) in index.docs.iter().flatten().filter(|(_, l)| !l.is_empty()) {
            let mut named: Vec<(&str, usize)> = lengths.iter().map(|&(f, n)| (index.fields[f].as_str(), n)).collect();
            named.sort_by_key(|&(k, _)| k);
            m.serialize_entry(&index.rows[*row].reference, &Lengths(named))?;
        }
        m.end()
    }
}

struct Lengths<'a>(Vec<(&'a str, usize)>);

impl Serialize for Lengths<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ours and the crate's, on the same rows: the same bytes.
    fn both(lang: &str, fields: &[&str], rows: &[(&str, &[&str])]) -> (String, String) {
        let language = || elasticlunr::lang::from_code(lang).unwrap();
        let mut builder = elasticlunr::IndexBuilder::with_language(language());
        for f in fields {
            builder = builder.add_field(f);
        }
        let mut crate_index = builder.build();
        for (r, texts) in rows {
            crate_index.add_doc(r, texts.iter());
        }
        let mut builder = elasticlunr::IndexBuilder::with_language(language());
        for f in fields {
            builder = builder.add_field(f);
        }
        let skeleton = serde_json::to_value(builder.build()).unwrap();
        let references: Vec<&str> = rows.iter().map(|(r, _)| *r).collect();
        let mut ours = Index::new(fields.iter().map(|f| f.to_string()).collect(), &references);
        let (pipeline, l) = (language().make_pipeline(), language());
        for (r, texts) in rows {
            let words = texts.iter().map(|t| pipeline.run(l.tokenize(t))).collect();
            let texts = texts.iter().map(|t| t.to_string()).collect();
            ours.add(Doc { reference: r.to_string(), texts }, words);
        }
        let ours = String::from_utf8(ours.write("", &skeleton).unwrap()).unwrap();
        (ours, crate_index.to_json())
    }

    #[test]
    fn writes_the_crates_index_byte_for_byte() {
        let rows: &[(&str, &[&str])] = &[
            ("https://x.example/b/", &["Lavender at dawn", "The lavender \"still\" runs at dawn; dawn again."]),
            ("https://x.example/a/", &["Rose", "Rose water and rose oil, 3.5 ml <b>"]),
            // A second document of the same reference replaces the first, as in a map.
            ("https://x.example/b/", &["Lavender", "Only this now."]),
            // A document missing its body, and one with no text at all.
            ("https://x.example/c/", &["Cedar"]),
            ("https://x.example/d/", &[]),
            ("https://x.example/é/", &["Été", "Über ünd çà"]),
            // Again with fewer fields, and again with none: the lengths it had stay.
            ("https://x.example/a/", &["Rose again"]),
            ("https://x.example/é/", &[]),
            // A character beyond the Basic Multilingual Plane inside a word.
            ("https://x.example/f/", &["a\u{1d4b3}b note", "x\u{1f33f}y leaf"]),
        ];
        let (ours, theirs) = both("en", &["title", "body"], rows);
        assert_eq!(ours, theirs);
        let (ours, theirs) = both("fr", &["title", "description", "body"], rows);
        assert_eq!(ours, theirs);
        // A field named as the reference is stored, not indexed.
        let (ours, theirs) = both("en", &["id", "body"], &rows[..2]);
        assert_eq!(ours, theirs);
    }
}
