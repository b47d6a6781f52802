//! rustls driven over a monoio TCP socket with owned record buffers and
//! cancelable record I/O, so buffers come back on a timeout.

use std::io::{Read, Write};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{CancelableAsyncReadRent, CancelableAsyncWriteRent, Canceller};
use monoio::net::TcpStream;
use rustls::ClientConnection;

use crate::error::{ErrorKind, TlsErrorKind};
use crate::plan::TlsTarget;

use super::{Fail, Watch};

/// Size of the buffer TLS records are read into.
const TLS_READ_BUF: usize = 17 * 1024;

/// rustls driven over a monoio socket with owned record buffers.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    conn: ClientConnection,
    tls_in: Vec<u8>,
    in_pos: usize,
    tls_out: Vec<u8>,
    /// Decrypted bytes pass through here (kept off the task's future).
    plain: Box<[u8]>,
    /// Record I/O is cancelable, so its buffers come back on a timeout.
    canceller: Canceller,
}

/// Writes all of `buf` with cancelable sends (TLS records).
async fn write_all(
    tcp: &mut TcpStream,
    canceller: &mut Canceller,
    mut buf: Vec<u8>,
    watch: &mut Watch<'_, '_>,
) -> (Result<(), Fail>, Vec<u8>) {
    let len = buf.len();
    let mut done = 0;
    while done < len {
        let handle = canceller.handle();
        let (r, slice) = watch
            .io(
                canceller,
                tcp.cancelable_write(buf.slice(done..len), handle),
            )
            .await;
        buf = slice.into_inner();
        match r {
            Ok(0) => return (Err(Fail::Error(ErrorKind::Reset)), buf),
            Ok(n) => done += n,
            Err(f) => return (Err(f), buf),
        }
    }
    (Ok(()), buf)
}

fn tls_error(e: &rustls::Error) -> Fail {
    Fail::Error(ErrorKind::Tls(TlsErrorKind::from_rustls(e)))
}

impl TlsStream {
    pub(super) async fn connect(
        tcp: TcpStream,
        tls: &TlsTarget,
        watch: &mut Watch<'_, '_>,
    ) -> Result<Box<TlsStream>, Fail> {
        let conn = ClientConnection::new(tls.config.clone(), tls.server_name.clone())
            .map_err(|e| Fail::Error(ErrorKind::Tls(TlsErrorKind::from_rustls(&e))))?;
        let mut s = Box::new(TlsStream {
            tcp,
            conn,
            tls_in: Vec::with_capacity(TLS_READ_BUF),
            in_pos: 0,
            tls_out: Vec::with_capacity(4096),
            plain: vec![0; 4096].into_boxed_slice(),
            canceller: Canceller::new(),
        });
        s.handshake(watch).await?;
        Ok(s)
    }

    /// The socket, the session, and TLS bytes read but not yet fed to the
    /// session: for HTTP/2, whose reader and writer tasks share the session.
    pub(crate) fn into_parts(self) -> (TcpStream, ClientConnection, Vec<u8>) {
        let early = self.tls_in[self.in_pos..].to_vec();
        (self.tcp, self.conn, early)
    }

    pub(super) async fn handshake(&mut self, watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                self.flush(watch).await?;
            } else if self.conn.wants_read() {
                if self.fill(watch).await? == 0 {
                    return Err(Fail::Error(ErrorKind::Tls(TlsErrorKind::HandshakeEof)));
                }
            } else {
                break;
            }
        }
        self.flush(watch).await
    }

    /// Sends whatever rustls has queued.
    pub(super) async fn flush(&mut self, watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        while self.conn.wants_write() {
            let mut out = std::mem::take(&mut self.tls_out);
            out.clear();
            // Writing into a Vec cannot fail.
            let _ = self.conn.write_tls(&mut out);
            let (r, out) = write_all(&mut self.tcp, &mut self.canceller, out, watch).await;
            self.tls_out = out;
            r?;
        }
        Ok(())
    }

    /// Feeds buffered or freshly read TLS bytes to rustls; returns 0 at EOF.
    pub(super) async fn fill(&mut self, watch: &mut Watch<'_, '_>) -> Result<usize, Fail> {
        if self.in_pos >= self.tls_in.len() {
            let mut buf = std::mem::take(&mut self.tls_in);
            buf.clear();
            self.in_pos = 0;
            let cap = buf.capacity();
            let handle = self.canceller.handle();
            let (r, slice) = watch
                .io(
                    &mut self.canceller,
                    self.tcp.cancelable_read(buf.slice_mut(0..cap), handle),
                )
                .await;
            self.tls_in = slice.into_inner();
            if r? == 0 {
                return Ok(0);
            }
        }
        let mut rd = &self.tls_in[self.in_pos..];
        let before = rd.len();
        let n = self
            .conn
            .read_tls(&mut rd)
            .map_err(|e| Fail::Error(ErrorKind::from_io(&e)))?;
        self.in_pos += before - rd.len();
        self.conn.process_new_packets().map_err(|e| tls_error(&e))?;
        Ok(n.max(1))
    }

    pub(super) async fn write_plain(
        &mut self,
        data: &[u8],
        watch: &mut Watch<'_, '_>,
    ) -> Result<(), Fail> {
        // rustls buffers plaintext without limit by default; write_all cannot
        // fail short here.
        self.conn
            .writer()
            .write_all(data)
            .map_err(|e| Fail::Error(ErrorKind::from_io(&e)))?;
        self.flush(watch).await
    }

    pub(super) async fn read_plain(
        &mut self,
        buf: &mut Vec<u8>,
        watch: &mut Watch<'_, '_>,
    ) -> Result<usize, Fail> {
        loop {
            let room = (buf.capacity() - buf.len()).min(self.plain.len());
            match self.conn.reader().read(&mut self.plain[..room]) {
                Ok(n) => {
                    buf.extend_from_slice(&self.plain[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the same as EOF for HTTP framing.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(Fail::Error(ErrorKind::from_io(&e))),
            }
            if self.conn.wants_write() {
                self.flush(watch).await?;
            }
            if self.fill(watch).await? == 0 {
                return Ok(0);
            }
        }
    }
}
