//! Just enough HTTP/1.1 for probes and scrapers: GET and HEAD, one request
//! per connection, answered and closed. Requests are read into a bounded
//! buffer; whatever does not fit, or takes too long, is refused.

/// The request line and headers together may not be longer than this.
pub const MAX_REQUEST: usize = 8192;

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub head: bool,
    /// The path, without the query.
    pub path: &'a str,
    /// `?verbose` was given.
    pub verbose: bool,
}

/// What the bytes received so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse<'a> {
    /// The headers have not ended yet.
    Incomplete,
    Done(Request<'a>),
    /// Answer with this status and close.
    Refuse(u16),
}

pub fn parse(received: &[u8]) -> Parse<'_> {
    let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| {
        // Tolerate bare newlines, as curl -0 with odd proxies and hand-typed
        // requests use them.
        received.windows(2).position(|w| w == b"\n\n")
    }) else {
        return if received.len() >= MAX_REQUEST { Parse::Refuse(431) } else { Parse::Incomplete };
    };
    let Some(head) = received.get(..end) else { return Parse::Refuse(400) };
    let Ok(head) = std::str::from_utf8(head) else { return Parse::Refuse(400) };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parse::Refuse(400);
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Parse::Refuse(if version.starts_with("HTTP/") { 505 } else { 400 });
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Parse::Refuse(405),
    };
    if !target.starts_with('/') {
        return Parse::Refuse(400);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let verbose = query.split('&').any(|pair| pair == "verbose" || pair.starts_with("verbose="));
    Parse::Done(Request { head: head_only, path, verbose })
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// A whole response: status line, headers and (unless `head`) the body.
pub fn response(status: u16, content_type: &str, body: &str, head: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    if status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

/// A refusal: the status and its reason as plain text.
pub fn refusal(status: u16) -> Vec<u8> {
    response(status, TEXT, &format!("{}\n", reason(status)), false)
}

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const JSON: &str = "application/json";
/// Prometheus text exposition format 0.0.4.
pub const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";
