//! The only module that knows the YAML crate: it turns text into a small tree of
//! [`Node`]s, each with its line and column, so that every later error can point
//! at the place it comes from. Budgets stop hostile input early: nesting depth,
//! node count (aliases count for what they expand to) and, upstream, file size.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deepest nesting accepted; warden's schema needs 4.
const MAX_DEPTH: usize = 32;
/// Most nodes accepted, aliases expanded: a YAML bomb stops here.
const MAX_NODES: usize = 100_000;

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// Any other scalar, as written; `quoted` tells `"1"` from `1`.
    Scalar {
        text: String,
        quoted: bool,
    },
    List(Vec<Node>),
    /// Keys in file order; duplicates are rejected while loading.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub at: Position,
    pub value: Value,
}

/// A syntax error or a budget exceeded, with where it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub at: Position,
    pub message: String,
}

fn position(span: Span) -> Position {
    Position { line: span.start.line(), column: span.start.col() + 1 }
}

/// Parses one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder { anchors: HashMap::new(), nodes: 0, stack: Vec::new(), root: None };
    for result in Parser::new_from_str(text) {
        let (event, span) = result.map_err(|e| {
            let at = Position { line: e.marker().line(), column: e.marker().col() + 1 };
            let message = e.info().to_string();
            // An unclosed [ or { is found only where the next key starts:
            // point at where it opened instead.
            match builder.stack.last() {
                Some(Open::List { at: opened, .. }) if message.contains("flow") => YamlError {
                    at: *opened,
                    message: format!(
                        "this list is not closed: a \"]\" is missing ({message} at {}:{})",
                        at.line, at.column
                    ),
                },
                Some(Open::Map { at: opened, .. }) if message.contains("flow") => YamlError {
                    at: *opened,
                    message: format!(
                        "this mapping is not closed: a \"}}\" is missing ({message} at {}:{})",
                        at.line, at.column
                    ),
                },
                _ if message.starts_with("tabs disallowed") => YamlError {
                    at,
                    message: format!("{message}: indent with spaces; YAML takes no tabs there"),
                },
                _ => YamlError { at, message },
            }
        })?;
        builder.event(event, span)?;
        if builder.root.is_some() && builder.stack.is_empty() {
            // One document is all a config has; ignore what may follow.
            break;
        }
    }
    Ok(builder.root.unwrap_or(Node { at: Position { line: 1, column: 1 }, value: Value::Null }))
}

enum Open {
    List { at: Position, anchor: usize, items: Vec<Node> },
    Map { at: Position, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

struct Builder {
    anchors: HashMap<usize, Node>,
    nodes: usize,
    stack: Vec<Open>,
    root: Option<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let at = position(span);
        let too_much = |what: &str| YamlError { at, message: format!("too {what}") };
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let value = if !quoted && matches!(text.as_ref(), "~" | "null" | "Null" | "NULL" | "") {
                    Value::Null
                } else {
                    Value::Scalar { text: text.into_owned(), quoted }
                };
                self.count(1, at)?;
                self.finish(Node { at, value }, anchor)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| YamlError { at, message: "alias to an unknown anchor".into() })?;
                self.count(size(&node), at)?;
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(too_much("deeply nested"));
                }
                self.stack.push(Open::List { at, anchor, items: Vec::new() });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(too_much("deeply nested"));
                }
                self.stack.push(Open::Map { at, anchor, entries: Vec::new(), key: None });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.count(1, at)?;
                match self.stack.pop() {
                    Some(Open::List { at, anchor, items }) => {
                        self.finish(Node { at, value: Value::List(items) }, anchor)
                    }
                    Some(Open::Map { at, anchor, entries, .. }) => {
                        let entries = merged(entries)?;
                        self.finish(Node { at, value: Value::Map(entries) }, anchor)
                    }
                    None => Err(YamlError { at, message: "unbalanced end of collection".into() }),
                }
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn count(&mut self, nodes: usize, at: Position) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                at,
                message: format!("too many nodes (more than {MAX_NODES}, aliases expanded)"),
            });
        }
        Ok(())
    }

    /// Places a completed node into its parent (or as the root).
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Open::List { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => {
                    if let Value::Scalar { text, .. } = &node.value
                        && let Some((first, _)) =
                            entries.iter().find(|(k, _)| k.value.as_text() == Some(text))
                    {
                        return Err(YamlError {
                            at: node.at,
                            message: format!("duplicate key \"{text}\" (first at line {})", first.at.line),
                        });
                    }
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }
}

/// A mapping with its merge keys applied (`<<: *defaults`, or a list of
/// aliases: YAML 1.1's merge, which Compose files use with `x-` fields):
/// the merged mappings' keys take the place of `<<`, except those the
/// mapping sets itself; of several merged mappings the first that has a key
/// gives it. A quoted `"<<"` is an ordinary key.
fn merged(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    let is_merge = |key: &Node| matches!(&key.value, Value::Scalar { text, quoted: false } if text == "<<");
    if !entries.iter().any(|(key, _)| is_merge(key)) {
        return Ok(entries);
    }
    let own: Vec<String> = entries
        .iter()
        .filter(|(k, _)| !is_merge(k))
        .filter_map(|(k, _)| k.value.as_text().map(String::from))
        .collect();
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if !is_merge(&key) {
            out.push((key, value));
            continue;
        }
        let at = value.at;
        let sources = match value.value {
            Value::Map(_) => vec![value],
            Value::List(items) => items,
            _ => Vec::new(),
        };
        if sources.is_empty() {
            return Err(YamlError {
                at,
                message: "a merge key (<<) takes a mapping or a list of mappings, like *defaults".into(),
            });
        }
        for source in sources {
            let Value::Map(pairs) = source.value else {
                return Err(YamlError {
                    at: source.at,
                    message: format!("a merge key (<<) merges mappings, not {}", source.value.kind()),
                });
            };
            for (k, v) in pairs {
                let text = k.value.as_text();
                let taken = text.is_some_and(|t| {
                    own.iter().any(|o| o == t) || out.iter().any(|(o, _)| o.value.as_text() == Some(t))
                });
                if !taken {
                    out.push((k, v));
                }
            }
        }
    }
    Ok(out)
}

fn size(node: &Node) -> usize {
    match &node.value {
        Value::Null | Value::Scalar { .. } => 1,
        Value::List(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// What a user would call this kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Scalar { .. } => "a single value",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

#[cfg(test)]
mod tests;
