//! The YAML configuration: its typed form, and `load`, which reads a file, checks
//! all of it and reports *every* problem at once, each with file, line, column,
//! key path and, where one is likely, a suggestion. Nothing is started from a
//! config that has any error.
//!
//! Reading is in three steps: `yaml` turns text into positioned nodes; `Reader`
//! converts nodes into typed values, collecting errors instead of stopping at the
//! first; `validate` checks what needs the whole picture (dependencies, cycles).
//!
//! The rooms: `model` (the typed form and the defaults), `keys` (every
//! service key once: type, default, summary, reader), `reader` (top level
//! and services) and `parts` (compound values), `values` (single values and
//! suggestions), `checks` (cross-checks), `users` (/etc/passwd and group),
//! `yaml` (the parser's positioned nodes). The imports below are shared by
//! them (`use super::*`).

mod checks;
mod dotenv;
mod keys;
mod model;
mod parts;
mod reader;
mod schema;
mod users;
mod values;
mod yaml;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use yaml::{Node, Position, Value};

use crate::{duration, sys::signals};

/// A config file larger than this is refused before parsing.
const MAX_FILE_SIZE: u64 = 1024 * 1024;

use checks::*;
pub use model::*;
use reader::*;
pub use schema::schema;
use values::*;
pub use values::{
    DEFAULT_CONTROL, parse_address, parse_control, parse_http, parse_listen, parse_size, valid_name,
};

/// One problem in a config, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub at: Option<Position>,
    /// `services.web.restart`, or an environment variable's name.
    pub path: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    /// In the order of their place in the file (those without one first).
    pub problems: Vec<Diagnostic>,
    /// Said once after the problems: the keys an unknown one could have been.
    pub notes: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.at {
                Some(at) => write!(f, "{}:{}:{}: ", self.file, at.line, at.column)?,
                None => write!(f, "{}: ", self.file)?,
            }
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            f.write_str(&p.message)?;
        }
        for note in &self.notes {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// A config with one problem (it could not be read, or parsed at all).
    fn one(file: &str, at: Option<Position>, message: String) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            problems: vec![Diagnostic { at, path: String::new(), message }],
            notes: Vec::new(),
        }
    }
}

/// As `root`: users and groups are left as written, not looked up (for
/// the exports: the image's /etc/passwd is not this machine's, and
/// Compose resolves names in the image itself).
pub fn users_as_written() -> &'static Path {
    Path::new("")
}

/// Reads and checks the config at `path`. `env` looks up variables for `${VAR}`
/// and the `WARDEN_*` overrides; `root` is where /etc/passwd and /etc/group live
/// (or `users_as_written()`).
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>, root: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = read(path, &file)?;
    parse(&text, &file, env, root)
}

/// Reads and checks the config at `path` as `load` does, with the advice
/// that does not make it invalid (`warden validate` prints it, one line each).
pub fn load_with_advice(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
) -> Result<(Config, Vec<String>), ConfigError> {
    let file = path.display().to_string();
    let text = read(path, &file)?;
    let (config, node) = check(&text, &file, env, root)?;
    let report = ConfigError { file, problems: checks::advice(&config, &node), notes: Vec::new() };
    let advice = if report.problems.is_empty() {
        Vec::new()
    } else {
        report.to_string().lines().map(String::from).collect()
    };
    Ok((config, advice))
}

/// The text of the config at `path`: refused when larger than
/// `MAX_FILE_SIZE`, and a byte that is not UTF-8 is reported where it is.
fn read(path: &Path, file: &str) -> Result<String, ConfigError> {
    let unreadable =
        |e: std::io::Error| ConfigError::one(file, None, format!("cannot read: {}", crate::sys::Reason(&e)));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_FILE_SIZE {
        let message = format!("{size} bytes is larger than the {MAX_FILE_SIZE}-byte limit for a config");
        return Err(ConfigError::one(file, None, message));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let good = bytes.get(..e.utf8_error().valid_up_to()).unwrap_or_default();
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let column = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        let byte = bytes.get(good.len()).copied().unwrap_or(0);
        let message = format!("byte 0x{byte:02x} is not UTF-8: save the file as UTF-8");
        ConfigError::one(file, Some(Position { line, column }), message)
    })
}

/// The lists of keys that an unknown key without a close match was checked
/// against, each once; the service keys with what each is for.
fn known_keys_notes(lists: &[Vec<String>]) -> Vec<String> {
    let service: Vec<&str> = keys::service_key_names().collect();
    lists
        .iter()
        .map(|list| {
            if list.iter().map(String::as_str).eq(service.iter().copied()) {
                let width = service.iter().map(|k| k.len()).max().unwrap_or(0);
                let rows: Vec<String> = keys::SERVICE
                    .iter()
                    .map(|k| {
                        let default = k.default.replace('`', "");
                        format!("  {:width$}  {} (default: {default})", k.name, k.summary)
                    })
                    .collect();
                format!("service keys (docs/configuration.md):\n{}", rows.join("\n"))
            } else {
                format!("known keys there: {}", list.join(", "))
            }
        })
        .collect()
}

/// Where an INI section header (`[program:web]`) opens the file, if it is
/// the first thing in it (blank lines and `#` or `;` comments aside): YAML
/// would read it as a list, and report something far less useful.
fn looks_like_ini(text: &str) -> Option<Position> {
    let (index, line) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))?;
    let header = line.starts_with('[') && line.ends_with(']') && !line.contains(',') && line.len() > 2;
    let ini_line = |l: &str| l.split_once('=').is_some_and(|(k, _)| !k.trim().is_empty() && !k.contains(':'));
    let next =
        text.lines().skip(index + 1).map(str::trim).find(|l| !l.is_empty() && !l.starts_with(['#', ';']));
    (header && next.is_none_or(ini_line)).then_some(Position { line: index + 1, column: 1 })
}

/// Checks config `text`, named `file` in messages.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
) -> Result<Config, ConfigError> {
    check(text, file, env, root).map(|(config, _)| config)
}

/// Checks config `text` as `parse` does, with `scale`'s counts in place of
/// those services' `replicas:` (what `warden scale` asked for).
pub fn parse_scaled(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
    scale: &[(String, u32)],
) -> Result<Config, ConfigError> {
    check_scaled(text, file, env, root, scale).map(|(config, _)| config)
}

/// Checks config `text`; with the config, the positioned nodes it was read
/// from (for advice that names a place).
fn check(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
) -> Result<(Config, Node), ConfigError> {
    check_scaled(text, file, env, root, &[])
}

fn check_scaled(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
    scale: &[(String, u32)],
) -> Result<(Config, Node), ConfigError> {
    if let Some(at) = looks_like_ini(text) {
        let message = "this looks like an INI file (a supervisord config?); warden reads YAML: \
                       docs/migrating.md shows each supervisord key's counterpart";
        return Err(ConfigError::one(file, Some(at), message.into()));
    }
    let node = yaml::parse(text)
        .map_err(|e| ConfigError::one(file, Some(e.at), format!("invalid YAML: {}", e.message)))?;
    // `env_file` paths are relative to the config's directory.
    let dir = Path::new(file).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut reader = Reader {
        problems: Vec::new(),
        env,
        root,
        dir: dir.to_path_buf(),
        key_lists: Vec::new(),
        service_env: Vec::new(),
        global_env: Vec::new(),
        instance: None,
        scale: scale.to_vec(),
    };
    let config = reader.config(&node).map(|config| Config { text: text.to_string(), ..config });
    let mut problems = reader.problems;
    if let Some(config) = &config {
        validate(config, &node, &mut problems);
    }
    // Stable: problems at one place keep the order they were found in.
    problems.sort_by_key(|p| p.at.map(|at| (at.line, at.column)));
    // Copies of a replicated service may each find the same one.
    problems.dedup();
    match config {
        Some(config) if problems.is_empty() => Ok((config, node)),
        _ => {
            Err(ConfigError { file: file.to_string(), problems, notes: known_keys_notes(&reader.key_lists) })
        }
    }
}

#[cfg(test)]
mod tests;
