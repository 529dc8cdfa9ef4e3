//! A small YAML writer for the exports: block mappings and lists, flow
//! lists of scalars, and comments where a key would go. Strings are written
//! plain only when YAML cannot read them as anything else, and otherwise
//! double-quoted with JSON's escapes (which YAML reads the same).

use std::fmt::Write;

/// A value to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Map(Vec<Entry>),
    List(Vec<Yaml>),
    /// A list of scalars, written `[a, b]`.
    Flow(Vec<String>),
    Str(String),
    Int(i64),
    Bool(bool),
}

/// One line of a mapping: a key and its value, or a comment.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Field(String, Yaml),
    Comment(String),
}

impl Yaml {
    pub fn str(text: impl Into<String>) -> Yaml {
        Yaml::Str(text.into())
    }
}

/// Builds a mapping entry by entry.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Map(pub Vec<Entry>);

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    pub fn field(mut self, key: &str, value: Yaml) -> Map {
        self.0.push(Entry::Field(key.to_string(), value));
        self
    }

    pub fn put(&mut self, key: &str, value: Yaml) {
        self.0.push(Entry::Field(key.to_string(), value));
    }

    pub fn comment(&mut self, text: &str) {
        self.0.push(Entry::Comment(text.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn done(self) -> Yaml {
        Yaml::Map(self.0)
    }
}

/// The document text of `value` (a mapping at the top).
pub fn document(value: &Yaml) -> String {
    let mut out = String::new();
    match value {
        Yaml::Map(entries) => map(&mut out, entries, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn map(out: &mut String, entries: &[Entry], indent: usize) {
    for entry in entries {
        let pad = " ".repeat(indent);
        match entry {
            Entry::Comment(text) => {
                for line in text.lines() {
                    let _ = writeln!(out, "{pad}# {line}");
                }
            }
            Entry::Field(key, value) => {
                let _ = write!(out, "{pad}{}:", scalar(key));
                nested(out, value, indent);
            }
        }
    }
}

/// A value after `key:` (or after `- `): inline, or on the lines below.
fn nested(out: &mut String, value: &Yaml, indent: usize) {
    match value {
        Yaml::Map(entries) if entries.iter().any(|e| matches!(e, Entry::Field(..))) => {
            out.push('\n');
            map(out, entries, indent + 2);
        }
        Yaml::List(items) if !items.is_empty() => {
            out.push('\n');
            list(out, items, indent + 2);
        }
        other => {
            let _ = writeln!(out, " {}", inline(other));
        }
    }
}

fn list(out: &mut String, items: &[Yaml], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Yaml::Map(entries) if entries.iter().any(|e| matches!(e, Entry::Field(..))) => {
                // Comments before the first key go above the dash.
                let first = entries.iter().position(|e| matches!(e, Entry::Field(..))).unwrap_or(0);
                let (before, rest) = entries.split_at(first);
                map(out, before, indent);
                let _ = write!(out, "{pad}- ");
                let mut rest = rest.iter();
                if let Some(Entry::Field(key, value)) = rest.next() {
                    let _ = write!(out, "{}:", scalar(key));
                    nested(out, value, indent + 2);
                }
                let rest: Vec<Entry> = rest.cloned().collect();
                map(out, &rest, indent + 2);
            }
            other => {
                let _ = write!(out, "{pad}-");
                nested(out, other, indent);
            }
        }
    }
}

fn inline(value: &Yaml) -> String {
    match value {
        Yaml::Str(text) => scalar(text),
        Yaml::Int(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Flow(items) => {
            let items: Vec<String> = items.iter().map(|i| quoted(i)).collect();
            format!("[{}]", items.join(", "))
        }
        Yaml::List(_) => "[]".into(),
        Yaml::Map(_) => "{}".into(),
    }
}

/// `text` plain when YAML reads it back as this very string, else quoted.
pub fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@' | '+' | ':'))
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && !text.contains(": ")
        && !text.ends_with(':')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        );
    if plain { text.to_string() } else { quoted(text) }
}

/// A double-quoted scalar with JSON's escapes.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
