//! `warden schema`: a JSON Schema (2020-12) of the configuration, for
//! editors (yaml-language-server completes and checks `warden.yaml` with
//! it). The service keys come from the reader's own table (`keys::SERVICE`:
//! each key's summary is its description), the global and probe keys from
//! the reader's lists; a test fails when the reader knows a key the schema
//! does not.
//!
//! Where warden expands `${VAR}`, a scalar may also be a string holding a
//! `${...}` reference: the schema cannot know the variable's value.

use super::keys;
use super::reader::{GLOBAL_KEYS, PROBE_KEYS};

/// The schema of one service key's value; None for a key the schema lacks.
fn service_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "env_file" => r##"{"$ref": "#/$defs/env_file"}"##,
        "env" => r##"{"$ref": "#/$defs/env"}"##,
        "command" => r##"{"$ref": "#/$defs/command"}"##,
        "type" => r#"{"enum": ["longrun", "oneshot"]}"#,
        "schedule" => r##"{"type": "string", "minLength": 1}"##,
        "group" | "user" => r##"{"type": ["string", "integer"]}"##,
        "workdir" => r##"{"type": "string", "minLength": 1}"##,
        "umask" => r##"{"type": "string", "pattern": "^0?[0-7]{3}$"}"##,
        "limits" => r##"{"$ref": "#/$defs/limits"}"##,
        "depends_on" => r##"{"$ref": "#/$defs/depends_on"}"##,
        "restart" => r#"{"enum": ["always", "on-failure", "never"]}"#,
        "success_codes" => r#"{"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}"#,
        "max_restarts" => r#"{"anyOf": [{"type": "integer", "minimum": 0}, {"const": "unlimited"}]}"#,
        "restart_window" | "min_uptime" | "cooldown" | "stop_timeout" | "watchdog" => {
            r##"{"$ref": "#/$defs/duration"}"##
        }
        "backoff" => r##"{"$ref": "#/$defs/backoff"}"##,
        "stop_signal" | "reload_signal" => r##"{"$ref": "#/$defs/signal"}"##,
        "enabled" | "critical" | "optional" | "no_new_privs" | "inherit_fds" | "notify" => {
            r##"{"$ref": "#/$defs/boolean"}"##
        }
        "logs" => r##"{"$ref": "#/$defs/logs"}"##,
        "forward_signals" => r##"{"type": "array", "items": {"$ref": "#/$defs/signal"}}"##,
        "startup" | "liveness" | "readiness" => r##"{"$ref": "#/$defs/probe"}"##,
        "notify_fd" => r#"{"type": "integer", "minimum": 3, "maximum": 1023}"#,
        "replicas" => {
            r##"{"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"$ref": "#/$defs/variable"}]}"##
        }
        "watch" => {
            r##"{"type": "object", "additionalProperties": false, "required": ["paths"], "properties": {"paths": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}, "action": {"type": "string", "pattern": "^(restart|reload|signal: *[A-Z0-9+-]+)$"}, "debounce": {"$ref": "#/$defs/duration"}}}"##
        }
        _ => return None,
    })
}

/// The schema of one global key's value.
fn global_key(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "grace" => (
            r##"{"$ref": "#/$defs/duration"}"##,
            "budget for the whole shutdown; then SIGKILL to everything left",
        ),
        "drain" => (
            r##"{"$ref": "#/$defs/duration"}"##,
            "from the first stop signal, /readyz is 503 for this long before anything is stopped",
        ),
        "control" => (r#"{"type": "string", "minLength": 1}"#, "the control socket's path, or off"),
        "http" => (
            r#"{"type": ["string", "integer"]}"#,
            "where the HTTP endpoints listen (:9400, 127.0.0.1:9400), or off",
        ),
        "log_format" => (r#"{"enum": ["text", "json"]}"#, "warden's event lines and captured output lines"),
        "log_timestamps" => {
            (r##"{"$ref": "#/$defs/boolean"}"##, "an RFC 3339 time before each captured line")
        }
        "crash_reports" => (
            r##"{"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": false, "required": ["dir"], "properties": {"dir": {"type": "string"}, "keep": {"type": "integer", "minimum": 1}}}]}"##,
            "one JSON file per crash",
        ),
        "on_crash" => (
            r##"{"anyOf": [{"$ref": "#/$defs/command"}, {"type": "object", "additionalProperties": false, "required": ["command"], "properties": {"command": {"$ref": "#/$defs/command"}, "timeout": {"$ref": "#/$defs/duration"}}}]}"##,
            "run on each crash with WARDEN_* variables",
        ),
        "env_file" => {
            (r##"{"$ref": "#/$defs/env_file"}"##, "dotenv files every service's environment starts from")
        }
        "env" => (r##"{"$ref": "#/$defs/env"}"##, "variables every service gets"),
        "cgroups" => (
            r#"{"enum": ["auto", "off"]}"#,
            "auto: services get cgroups of their own where warden can write them",
        ),
        "watch_config" => (r##"{"$ref": "#/$defs/boolean"}"##, "reload when the config file changes"),
        "limits_period" => {
            (r##"{"$ref": "#/$defs/duration"}"##, "how often a watched memory limit is measured")
        }
        "services" => (
            r##"{"type": "object", "minProperties": 1, "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"}, "additionalProperties": {"$ref": "#/$defs/service"}}"##,
            "the programs warden runs, by name",
        ),
        _ => return None,
    })
}

/// The schema of one probe key's value.
fn probe_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "exec" => r##"{"$ref": "#/$defs/command"}"##,
        "http" | "tcp" => r#"{"type": ["string", "integer"]}"#,
        "file" | "log" => r#"{"type": "string", "minLength": 1}"#,
        "initial_delay" | "period" | "timeout" => r##"{"$ref": "#/$defs/duration"}"##,
        "success_threshold" | "failure_threshold" => r#"{"type": "integer", "minimum": 1}"#,
        _ => return None,
    })
}

/// Shared definitions.
const DEFS: &str = r##"
    "variable": {"type": "string", "pattern": "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}"},
    "duration": {"anyOf": [{"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h))+)$"}, {"$ref": "#/$defs/variable"}]},
    "boolean": {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "yes", "no", "on", "off"]}, {"$ref": "#/$defs/variable"}]},
    "signal": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 64}, {"type": "string", "pattern": "^((SIG)?[A-Z]+[0-9]*|(SIG)?RTMIN\\+[0-9]+|(SIG)?RTMAX-[0-9]+|[0-9]+)$"}]},
    "size": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+[KMGkmg]?$"}, {"$ref": "#/$defs/variable"}]},
    "scalar": {"type": ["string", "number", "boolean"]},
    "command": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/scalar"}}]},
    "env": {"type": "object", "additionalProperties": {"$ref": "#/$defs/scalar"}},
    "env_file": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string", "minLength": 1}}]},
    "depends_on": {"anyOf": [
        {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}},
        {"type": "object", "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"}, "additionalProperties": {"anyOf": [
            {"enum": ["started", "ready", "completed"]},
            {"type": "object", "additionalProperties": false, "properties": {
                "condition": {"enum": ["started", "ready", "completed"]}, "instances": {"enum": ["all", "any"]}
            }}
        ]}}
    ]},
    "backoff": {"type": "object", "additionalProperties": false, "properties": {
        "initial": {"$ref": "#/$defs/duration"}, "max": {"$ref": "#/$defs/duration"},
        "multiplier": {"type": "number", "minimum": 1}, "jitter": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$"}
    }},
    "logs": {"anyOf": [
        {"enum": ["prefix", "inherit", "null", null]},
        {"type": "object", "additionalProperties": false, "required": ["file"], "properties": {
            "file": {"type": "string", "minLength": 1}, "max_size": {"$ref": "#/$defs/size"}, "keep": {"type": "integer", "minimum": 0}
        }}
    ]},
    "rlimit": {"anyOf": [{"$ref": "#/$defs/size"}, {"enum": ["unlimited", "infinity"]}]},
    "limits": {"type": "object", "additionalProperties": false, "properties": {
        "nofile": {"$ref": "#/$defs/rlimit"}, "nproc": {"$ref": "#/$defs/rlimit"}, "core": {"$ref": "#/$defs/rlimit"},
        "stack": {"$ref": "#/$defs/rlimit"}, "memlock": {"$ref": "#/$defs/rlimit"}, "as": {"$ref": "#/$defs/rlimit"},
        "memory": {"$ref": "#/$defs/size"}, "memory_high": {"$ref": "#/$defs/size"},
        "cpus": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": "^[0-9]*(\\.[0-9]+)?%?$"}]},
        "pids": {"type": "integer", "minimum": 1}
    }},"##;

/// The whole schema, as JSON text.
pub fn schema() -> String {
    let quote = crate::output::json::quote;
    let mut globals = Vec::new();
    for name in GLOBAL_KEYS {
        if let Some((value, description)) = global_key(name) {
            globals.push(format!("{}: {}", quote(name), with_description(value, description)));
        }
    }
    let mut service = Vec::new();
    for key in keys::SERVICE {
        if let Some(value) = service_key(key.name) {
            service.push(format!("{}: {}", quote(key.name), with_description(value, key.summary)));
        }
    }
    let probes: Vec<String> =
        PROBE_KEYS.iter().filter_map(|name| Some(format!("{}: {}", quote(name), probe_key(name)?))).collect();
    let checks: Vec<String> = ["exec", "http", "tcp", "file", "log"]
        .iter()
        .map(|check| format!("{{\"required\": [\"{check}\"]}}"))
        .collect();
    format!(
        "{{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"title\": \"warden configuration\",\n  \
         \"description\": \"warden {version}: the YAML file of `warden -c FILE` (docs/configuration.md)\",\n  \
         \"type\": \"object\",\n  \"additionalProperties\": false,\n  \"required\": [\"services\"],\n  \
         \"properties\": {{\n    {globals}\n  }},\n  \"$defs\": {{{DEFS}\n    \"probe\": {{\"type\": \"object\", \
         \"additionalProperties\": false, \"oneOf\": [{checks}], \"properties\": {{{probes}}}}},\n    \
         \"service\": {{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"command\"], \
         \"properties\": {{\n      {service}\n    }}}}\n  }}\n}}\n",
        version = env!("CARGO_PKG_VERSION"),
        globals = globals.join(",\n    "),
        checks = checks.join(", "),
        probes = probes.join(", "),
        service = service.join(",\n      "),
    )
    // Every keyword mapping takes extension fields (`x-…`, as in Compose files).
    .replace("\"additionalProperties\": false", "\"additionalProperties\": false, \"patternProperties\": {\"^x-\": {}}")
}

/// `value` (an object) with a `description` added.
fn with_description(value: &str, description: &str) -> String {
    let body = value.trim().strip_prefix('{').unwrap_or(value);
    format!("{{\"description\": {}, {body}", crate::output::json::quote(description))
}

#[cfg(test)]
mod tests;
