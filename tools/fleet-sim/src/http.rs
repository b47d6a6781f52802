//! A minimal blocking HTTP/1.1 client over one keep-alive connection to
//! the registry on 127.0.0.1, retried once on a dropped connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::fail;

/// A tiny blocking HTTP/1.1 keep-alive client (Content-Length or chunked).
pub(crate) struct Conn {
    pub(crate) port: u16,
    pub(crate) r: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub(crate) fn new(port: u16) -> Conn {
        Conn { port, r: None }
    }

    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        for attempt in 0..2 {
            match self.try_request(method, path, body) {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 1 => return Err(e),
                Err(_) => self.r = None,
            }
        }
        Err("unreachable".into())
    }

    pub(crate) fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        if self.r.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
            s.set_nodelay(true).ok();
            s.set_read_timeout(Some(Duration::from_secs(120))).ok();
            self.r = Some(BufReader::with_capacity(1 << 16, s));
        }
        let r = self.r.as_mut().ok_or("no connection")?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = r.get_mut();
        s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        s.write_all(body).map_err(|e| e.to_string())?;
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut len, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => len = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line).map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|e| e.to_string())?;
                let start = out.len();
                out.resize(start + n, 0);
                r.read_exact(&mut out[start..]).map_err(|e| e.to_string())?;
                line.clear();
                r.read_line(&mut line).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
            }
        } else if let Some(n) = len {
            out.resize(n, 0);
            r.read_exact(&mut out).map_err(|e| e.to_string())?;
        } else {
            r.read_to_end(&mut out).map_err(|e| e.to_string())?;
            close = true;
        }
        if close {
            self.r = None;
        }
        Ok((status, out))
    }

    pub(crate) fn must(&mut self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        match self.request(method, path, body) {
            Ok((s, b)) if (200..300).contains(&s) => b,
            Ok((s, b)) => fail(&format!(
                "{method} {path}: {s} {}",
                String::from_utf8_lossy(&b[..b.len().min(200)])
            )),
            Err(e) => fail(&format!("{method} {path}: {e}")),
        }
    }
}
