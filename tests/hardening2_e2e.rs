//! Issue 24's rows (hardening, round two), through the real binary on
//! loopback: each test reproduces one defect the audit found. Every wait is
//! bounded; short timeouts come from flags.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Goto;
use goto_engine::h2codec::frame;

/// An h2c client that opens one GET stream with a zero window (so the
/// response cannot be sent) and answers the server's pings.
struct ZeroWindow {
    tcp: TcpStream,
    buf: Vec<u8>,
    headers: bool,
}

impl ZeroWindow {
    fn open(port: u16) -> ZeroWindow {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut out = frame::PREFACE.to_vec();
        frame::put_settings(&mut out, &[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
        // GET http / (static table) with a literal :authority.
        let block = [0x82, 0x86, 0x84, 0x41, 1, b'x'];
        frame::put_headers(&mut out, 1, &block, true, frame::DEFAULT_MAX_FRAME);
        tcp.write_all(&out).expect("preface");
        tcp.set_nonblocking(true).expect("nonblocking");
        ZeroWindow {
            tcp,
            buf: Vec::new(),
            headers: false,
        }
    }

    /// Reads what arrived and answers pings and settings; false once the
    /// server closed the connection.
    fn pump(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.tcp.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        let mut out = Vec::new();
        let mut at = 0;
        while let Ok(Some((f, n))) = frame::parse(&self.buf[at..], frame::MAX_MAX_FRAME) {
            at += n;
            match f {
                frame::Frame::Ping { ack: false, data } => frame::put_ping_ack(&mut out, &data),
                frame::Frame::Settings { ack: false, .. } => frame::put_settings_ack(&mut out),
                frame::Frame::Headers { stream: 1, .. } => self.headers = true,
                frame::Frame::Data {
                    stream: 1, data, ..
                } => {
                    assert!(data.is_empty(), "DATA sent into a zero window")
                }
                _ => {}
            }
        }
        self.buf.drain(..at);
        if !out.is_empty() {
            let _ = self.tcp.set_nonblocking(false);
            let ok = self.tcp.write_all(&out).is_ok();
            let _ = self.tcp.set_nonblocking(true);
            return ok;
        }
        true
    }
}

/// Row 2: HTTP/2 streams stalled on a zero window are cut at the idle
/// timeout (the server's pings, answered, do not count as use), and the
/// port answers meanwhile.
#[test]
fn http2_streams_stalled_on_a_zero_window_are_closed_at_the_idle_timeout() {
    let g = Goto::start(&[
        "--request-logs=false",
        "--idle-timeout",
        "2s",
        "--h2-ping",
        "300ms",
    ]);
    let started = Instant::now();
    let mut holders: Vec<Option<ZeroWindow>> =
        (0..20).map(|_| Some(ZeroWindow::open(g.port))).collect();
    let mut answered_meanwhile = 0;
    let deadline = started + Duration::from_secs(15);
    let mut saw_headers = 0;
    while holders.iter().any(Option::is_some) && Instant::now() < deadline {
        for h in holders.iter_mut() {
            if let Some(z) = h {
                let alive = z.pump();
                if !alive {
                    saw_headers += usize::from(z.headers);
                    *h = None;
                }
            }
        }
        if answered_meanwhile < 3 {
            let t = Instant::now();
            let r = common::try_request(g.port, "GET", "/health", &[], b"");
            assert!(r.is_ok_and(|r| r.status == 200), "the port did not answer");
            assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
            answered_meanwhile += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let open = holders.iter().filter(|h| h.is_some()).count();
    assert_eq!(
        open,
        0,
        "{open} zero-window connections outlived the idle timeout ({:?})",
        started.elapsed()
    );
    assert_eq!(saw_headers, 20, "the responses' heads were not sent");
    assert!(started.elapsed() >= Duration::from_millis(1500));
}
