//! `env_file`: the dotenv format, read without a shell.
//!
//! One variable a line: `KEY=VALUE` or `export KEY=VALUE`; blank lines and
//! `#` comments are skipped. A value in single quotes is literal; in double
//! quotes `\n`, `\"`, `\\` and `\$` are escapes and `${VAR}` (or
//! `${VAR:-default}`) is expanded; a bare value is trimmed, ends at ` #`,
//! and is expanded too. `${VAR}` sees the variables set before it (this
//! file's earlier lines, earlier layers), then warden's environment.

/// Variables in order, `(name, value)`.
pub type Variables = Vec<(String, String)>;

/// Answers `${NAME}`, seeing the lines read so far.
pub type Lookup<'a> = dyn Fn(&str, &[(String, String)]) -> Option<String> + 'a;

/// The variables of `text`, in order; `lookup` answers `${VAR}`, and sees
/// the earlier lines through its second argument. Err: (line number, why).
pub fn parse(text: &str, lookup: &Lookup<'_>) -> Result<Variables, (usize, String)> {
    let mut found: Variables = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err((number, format!("\"{}\" is not KEY=VALUE", raw.trim())));
        };
        let key = key.trim_end();
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err((number, format!("\"{key}\" is not a variable name (letters, digits and _)")));
        }
        let look = |name: &str| lookup(name, &found);
        let value = value(rest.trim_start(), &look).map_err(|why| (number, why))?;
        found.retain(|(k, _)| k != key);
        found.push((key.to_string(), value));
    }
    Ok(found)
}

fn value(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let after = |rest: &str| {
        let rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('#') {
            Ok(())
        } else {
            Err(format!("\"{rest}\" after the closing quote"))
        }
    };
    if let Some(inner) = text.strip_prefix('\'') {
        let end = inner.find('\'').ok_or("no closing ' (a value spans one line)")?;
        after(inner.get(end + 1..).unwrap_or_default())?;
        return Ok(inner.get(..end).unwrap_or_default().to_string());
    }
    if let Some(inner) = text.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    after(inner.get(at + 1..).unwrap_or_default())?;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some(c @ ('"' | '\\' | '$')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err("no closing \" (a value spans one line)".into()),
                },
                '$' if inner.get(at + 1..).is_some_and(|r| r.starts_with('{')) => {
                    let rest = inner.get(at + 2..).unwrap_or_default();
                    let close = rest.find('}').ok_or("${ without its closing }")?;
                    out.push_str(&variable(rest.get(..close).unwrap_or_default(), lookup)?);
                    // Skip the name and the brace.
                    for _ in 0..rest.get(..=close).map_or(0, |s| s.chars().count()) + 1 {
                        chars.next();
                    }
                }
                c => out.push(c),
            }
        }
        return Err("no closing \" (a value spans one line)".into());
    }
    let bare = match text.find(" #") {
        Some(at) => text.get(..at).unwrap_or_default(),
        None => text,
    };
    expand_bare(bare.trim_end(), lookup)
}

/// `${VAR}` in a bare value.
fn expand_bare(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at + 2..).unwrap_or_default();
        let close = tail.find('}').ok_or("${ without its closing }")?;
        out.push_str(&variable(tail.get(..close).unwrap_or_default(), lookup)?);
        rest = tail.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// `VAR` or `VAR:-default`: its value, the default, or empty.
fn variable(spec: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match spec.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (spec, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("\"${{{spec}}}\" does not name a variable"));
    }
    Ok(match (lookup(name).filter(|v| !v.is_empty() || default.is_none()), default) {
        (Some(value), _) => value,
        (None, Some(default)) => default.to_string(),
        (None, None) => String::new(),
    })
}

#[cfg(test)]
mod tests;
