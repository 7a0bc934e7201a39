//! `HTTP_GET` on the wire: the request keepalived sends, and a bounded,
//! streaming HTTP/1.x response reader (status line, `Content-Length`, MD5
//! of the body) that keeps no more than one short header line.
//!
//! Request (keepalived's `request_template`):
//!
//! ```text
//! GET /path HTTP/1.0\r\n
//! User-Agent: KeepAliveClient\r\n
//! [Connection: close\r\n]          (http_protocol 1.0C and 1.1)
//! Host: HOST\r\n                   (virtualhost, else IP:PORT, [IPv6]:PORT)
//! \r\n
//! ```
//!
//! The digest is the MD5 of the bytes after the blank line that ends the
//! header, up to `Content-Length` when the server sends one, as keepalived's
//! `http_process_response` and `genhash` compute it (no chunk decoding).

use core::fmt::Write;
use core::net::IpAddr;
use heapless::Vec;

use super::{Failure, Outcome};
use crate::config::lvs::{HttpProtocol, Url};
use crate::limits::MAX_PATH_LEN;
use crate::wire::md5::Md5;

/// Largest request: the path plus the fixed lines and a 64-byte host.
pub const REQUEST_MAX: usize = MAX_PATH_LEN + 192;
/// Longest header line kept (the rest of a longer line is skipped; only
/// the status line and `Content-Length` matter).
pub const LINE_MAX: usize = 96;
/// More header bytes than this: not an HTTP server (keepalived's whole
/// buffer is 4 KiB).
pub const HEADER_MAX: u32 = 16 * 1024;
/// Body bytes read at most (then the response counts as complete).
pub const BODY_MAX: u64 = 64 * 1024 * 1024;

/// The `Host:` header value.
#[derive(Clone, Copy, Debug)]
pub enum Host<'a> {
    Name(&'a str),
    Addr(IpAddr, u16),
}

/// The request does not fit [`REQUEST_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTooLong;

/// Writes the GET request for `path` into `out`.
pub fn build_request(
    out: &mut Vec<u8, REQUEST_MAX>,
    path: &str,
    protocol: HttpProtocol,
    host: Host<'_>,
) -> Result<(), RequestTooLong> {
    struct W<'a>(&'a mut Vec<u8, REQUEST_MAX>);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0
                .extend_from_slice(s.as_bytes())
                .map_err(|_| core::fmt::Error)
        }
    }
    out.clear();
    let minor = if protocol == HttpProtocol::V1_1 { 1 } else { 0 };
    let close = if protocol == HttpProtocol::V1_0 {
        ""
    } else {
        "Connection: close\r\n"
    };
    let mut w = W(out);
    let r = match host {
        Host::Name(h) => write!(
            w,
            "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {h}\r\n\r\n"
        ),
        Host::Addr(IpAddr::V6(a), port) => write!(
            w,
            "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: [{a}]:{port}\r\n\r\n"
        ),
        Host::Addr(a, port) => write!(
            w,
            "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {a}:{port}\r\n\r\n"
        ),
    };
    r.map_err(|_| RequestTooLong)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    StatusLine,
    Headers,
    Body,
}

/// A response being read. Feed it what arrives; [`Response::verdict`] at
/// the end of the stream (or once [`Response::complete`]).
#[derive(Clone, Debug)]
pub struct Response {
    stage: Stage,
    line: Vec<u8, LINE_MAX>,
    line_cut: bool,
    header_bytes: u32,
    /// The status code, once the status line is in (0: not HTTP).
    pub status: Option<u16>,
    pub content_length: Option<u64>,
    /// Body bytes received (all of them, also past `Content-Length`).
    pub body_bytes: u64,
    md5: Option<Md5>,
    hashed: u64,
}

impl Response {
    /// `digest`: compute the body's MD5.
    pub fn new(digest: bool) -> Response {
        Response {
            stage: Stage::StatusLine,
            line: Vec::new(),
            line_cut: false,
            header_bytes: 0,
            status: None,
            content_length: None,
            body_bytes: 0,
            md5: digest.then(Md5::new),
            hashed: 0,
        }
    }

    /// The header has been read completely.
    pub fn header_done(&self) -> bool {
        self.stage == Stage::Body
    }

    /// Everything `Content-Length` announced has arrived (or [`BODY_MAX`]):
    /// no need to wait for the server to close.
    pub fn complete(&self) -> bool {
        self.stage == Stage::Body
            && (self.content_length.is_some_and(|n| self.body_bytes >= n)
                || self.body_bytes >= BODY_MAX)
    }

    /// The header is larger than [`HEADER_MAX`]: give up.
    pub fn too_large(&self) -> bool {
        self.header_bytes > HEADER_MAX
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.stage == Stage::Body {
                self.body(data);
                return;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.header_bytes = self.header_bytes.saturating_add(i as u32 + 1);
                    self.push_line(&data[..i]);
                    self.end_line();
                    data = &data[i + 1..];
                }
                None => {
                    self.header_bytes = self.header_bytes.saturating_add(data.len() as u32);
                    self.push_line(data);
                    return;
                }
            }
        }
    }

    fn push_line(&mut self, part: &[u8]) {
        let room = LINE_MAX - self.line.len();
        let take = part.len().min(room);
        let _ = self.line.extend_from_slice(&part[..take]);
        if take < part.len() {
            self.line_cut = true;
        }
    }

    fn end_line(&mut self) {
        let mut l: &[u8] = &self.line;
        if l.last() == Some(&b'\r') {
            l = &l[..l.len() - 1];
        }
        match self.stage {
            Stage::StatusLine => {
                self.status = Some(parse_status(l));
                self.stage = Stage::Headers;
            }
            Stage::Headers if l.is_empty() && !self.line_cut => self.stage = Stage::Body,
            Stage::Headers => {
                if let Some(n) = parse_content_length(l) {
                    self.content_length = Some(n);
                }
            }
            Stage::Body => {}
        }
        self.line.clear();
        self.line_cut = false;
    }

    fn body(&mut self, data: &[u8]) {
        self.body_bytes = self.body_bytes.saturating_add(data.len() as u64);
        if let Some(m) = self.md5.as_mut() {
            let limit = self.content_length.unwrap_or(u64::MAX).min(BODY_MAX);
            let room = limit.saturating_sub(self.hashed);
            let take = (data.len() as u64).min(room) as usize;
            m.update(&data[..take]);
            self.hashed += take as u64;
        }
    }

    /// The body's MD5 so far (`None` without `digest`).
    pub fn digest(&self) -> Option<[u8; 16]> {
        self.md5.clone().map(|m| m.finalize())
    }

    /// keepalived's `http_handle_response`: no header → no data; then the
    /// status code; then the digest.
    pub fn verdict(&self, url: &Url) -> Outcome {
        if !self.header_done() {
            return Outcome::Failed(Failure::NoData);
        }
        let status = self.status.unwrap_or(0);
        if !url.status_code.contains(status) {
            return Outcome::Failed(Failure::Status(status));
        }
        if let Some(want) = url.digest
            && self.digest() != Some(want)
        {
            return Outcome::Failed(Failure::Digest);
        }
        Outcome::Success
    }
}

/// `HTTP/1.1 200 OK` → 200; anything else → 0.
fn parse_status(l: &[u8]) -> u16 {
    if !l.starts_with(b"HTTP/") {
        return 0;
    }
    let Some(sp) = l.iter().position(|&b| b == b' ') else {
        return 0;
    };
    let rest = &l[sp + 1..];
    let code = rest.get(..3).unwrap_or(b"");
    if code.len() == 3
        && code.iter().all(u8::is_ascii_digit)
        && rest.get(3).is_none_or(|&b| b == b' ')
    {
        code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'))
    } else {
        0
    }
}

fn parse_content_length(l: &[u8]) -> Option<u64> {
    let colon = l.iter().position(|&b| b == b':')?;
    if !l[..colon]
        .trim_ascii()
        .eq_ignore_ascii_case(b"content-length")
    {
        return None;
    }
    crate::config::values::parse_uint(l[colon + 1..].trim_ascii())
}

/// The digest as `genhash` prints it (32 lower-case hex digits).
pub fn hex_digest(d: &[u8; 16]) -> heapless::String<32> {
    let mut s = heapless::String::new();
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lvs::StatusCodes;
    use crate::config::model::PathStr;
    use crate::config::model::Span;
    use crate::wire::md5::md5;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn url(codes: StatusCodes, digest: Option<[u8; 16]>) -> Url {
        Url {
            path: PathStr::try_from("/").unwrap(),
            digest,
            status_code: codes,
            virtualhost: None,
            span: Span::default(),
        }
    }

    #[test]
    fn request_bytes_are_keepalived_s() {
        let mut b = Vec::new();
        build_request(
            &mut b,
            "/health",
            HttpProtocol::V1_0,
            Host::Addr(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)), 80),
        )
        .unwrap();
        assert_eq!(
            &b[..],
            b"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 198.51.100.11:80\r\n\r\n"
        );
        build_request(
            &mut b,
            "/",
            HttpProtocol::V1_1,
            Host::Addr(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                8080,
            ),
        )
        .unwrap();
        assert_eq!(
            &b[..],
            b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: [2001:db8::1]:8080\r\n\r\n"
        );
        build_request(
            &mut b,
            "/x",
            HttpProtocol::V1_0C,
            Host::Name("www.example.com"),
        )
        .unwrap();
        assert_eq!(
            &b[..],
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"
        );
    }

    const RESP: &[u8] = b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nContent-type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n";

    #[test]
    fn status_length_and_digest_in_one_piece_and_byte_by_byte() {
        for chunk in [RESP.len(), 1, 3, 17] {
            let mut r = Response::new(true);
            for c in RESP.chunks(chunk) {
                r.feed(c);
            }
            assert!(r.header_done() && r.complete());
            assert_eq!(r.status, Some(200));
            assert_eq!(r.content_length, Some(12));
            assert_eq!(r.body_bytes, 12);
            assert_eq!(r.digest(), Some(md5(b"hello world\n")));
            assert_eq!(
                r.verdict(&url(
                    StatusCodes::default_2xx(),
                    Some(md5(b"hello world\n"))
                )),
                Outcome::Success
            );
            assert_eq!(
                r.verdict(&url(StatusCodes::default_2xx(), Some([0; 16]))),
                Outcome::Failed(Failure::Digest)
            );
        }
    }

    #[test]
    fn status_codes_decide() {
        let mut r = Response::new(false);
        r.feed(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(
            r.verdict(&url(StatusCodes::default_2xx(), None)),
            Outcome::Failed(Failure::Status(503))
        );
        let mut s = StatusCodes::empty();
        s.insert_range(500, 503);
        assert_eq!(r.verdict(&url(s, None)), Outcome::Success);
        // Not HTTP at all.
        let mut r = Response::new(false);
        r.feed(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
        assert_eq!(
            r.verdict(&url(StatusCodes::default_2xx(), None)),
            Outcome::Failed(Failure::Status(0))
        );
    }

    #[test]
    fn no_header_end_is_no_data() {
        let mut r = Response::new(true);
        r.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n");
        assert!(!r.header_done());
        assert_eq!(
            r.verdict(&url(StatusCodes::default_2xx(), None)),
            Outcome::Failed(Failure::NoData)
        );
        let r = Response::new(false);
        assert_eq!(
            r.verdict(&url(StatusCodes::default_2xx(), None)),
            Outcome::Failed(Failure::NoData)
        );
    }

    #[test]
    fn digest_stops_at_content_length_and_without_it_takes_all() {
        let mut r = Response::new(true);
        r.feed(b"HTTP/1.0 200 OK\r\ncontent-length:  3 \r\n\r\nabcdef");
        assert_eq!(r.content_length, Some(3));
        assert_eq!(r.digest(), Some(md5(b"abc")));
        assert_eq!(r.body_bytes, 6);
        let mut r = Response::new(true);
        r.feed(b"HTTP/1.0 200 OK\n\nabcdef");
        assert!(r.header_done() && !r.complete());
        assert_eq!(r.digest(), Some(md5(b"abcdef")));
        // Empty body.
        let mut r = Response::new(true);
        r.feed(b"HTTP/1.0 204 No Content\r\n\r\n");
        assert_eq!(r.digest(), Some(md5(b"")));
    }

    #[test]
    fn long_header_lines_are_skipped_and_huge_headers_refused() {
        let mut r = Response::new(false);
        r.feed(b"HTTP/1.1 200 OK\r\nSet-Cookie: ");
        for _ in 0..100 {
            r.feed(&[b'x'; 100]);
        }
        r.feed(b"\r\nContent-Length: 0\r\n\r\n");
        assert!(r.complete());
        assert_eq!(r.content_length, Some(0));
        let mut r = Response::new(false);
        r.feed(b"HTTP/1.1 200 OK\r\n");
        for _ in 0..200 {
            r.feed(&[b'y'; 100]);
        }
        assert!(r.too_large() && !r.header_done());
    }

    #[test]
    fn hex_digest_is_lower_case() {
        assert_eq!(
            hex_digest(&md5(b"")).as_str(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
