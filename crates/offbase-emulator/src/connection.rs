//! The emulator's TCP connections, wrapped so a response can be cut off mid-body: the "reset"
//! fault. Each accepted connection carries a [`Connection`] handle (reachable from handlers as
//! connect info); arming it lets the next response's head and the first bytes of its body
//! through, then fails the write, so hyper drops the connection and the client sees it close
//! before the promised `content-length`.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections and wraps each in a [`CuttableStream`].
#[derive(Debug)]
pub(crate) struct EmulatorListener {
    listener: TcpListener,
}

impl EmulatorListener {
    pub(crate) fn new(listener: TcpListener) -> Self {
        EmulatorListener { listener }
    }
}

impl Listener for EmulatorListener {
    type Io = CuttableStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _remote)) => {
                    // Small answers go out at once rather than waiting on Nagle.
                    let _ = stream.set_nodelay(true);
                    let switch = Arc::new(Mutex::new(Switch::Idle));
                    let connection = Connection {
                        switch: Arc::clone(&switch),
                    };
                    return (CuttableStream { stream, switch }, connection);
                }
                // Out of file descriptors and the like: wait and try again, as axum does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()?;
        Ok(Connection {
            switch: Arc::new(Mutex::new(Switch::Idle)),
        })
    }
}

/// One client connection, as seen by a request handler.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    switch: Arc<Mutex<Switch>>,
}

impl Connection {
    /// The next response written on this connection gets its head and `body_bytes` bytes of
    /// its body out, then the connection fails.
    pub(crate) fn cut_after(&self, body_bytes: usize) {
        let mut switch = self.switch.lock().unwrap_or_else(PoisonError::into_inner);
        *switch = Switch::Armed {
            allowance: body_bytes,
            head_matched: 0,
            head_done: false,
        };
    }
}

impl Connected<IncomingStream<'_, EmulatorListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, EmulatorListener>) -> Self {
        stream.remote_addr().clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    /// Writes pass.
    Idle,
    /// Writes pass until the head's blank line and then `allowance` more bytes.
    Armed {
        allowance: usize,
        /// How much of `\r\n\r\n` the bytes written so far end with.
        head_matched: u8,
        head_done: bool,
    },
    /// Every write fails.
    Tripped,
}

const HEAD_END: &[u8; 4] = b"\r\n\r\n";

impl Switch {
    /// How many bytes of `bytes` may be written, and the state after writing them.
    fn advance(self, bytes: &[u8]) -> (usize, Switch) {
        let Switch::Armed {
            mut allowance,
            mut head_matched,
            mut head_done,
        } = self
        else {
            return match self {
                Switch::Tripped => (0, Switch::Tripped),
                _ => (bytes.len(), self),
            };
        };
        for (index, byte) in bytes.iter().enumerate() {
            if head_done {
                if allowance == 0 {
                    return (
                        index,
                        Switch::Armed {
                            allowance,
                            head_matched,
                            head_done,
                        },
                    );
                }
                allowance -= 1;
                continue;
            }
            head_matched = if *byte == HEAD_END[usize::from(head_matched)] {
                head_matched + 1
            } else if *byte == b'\r' {
                1
            } else {
                0
            };
            head_done = usize::from(head_matched) == HEAD_END.len();
        }
        (
            bytes.len(),
            Switch::Armed {
                allowance,
                head_matched,
                head_done,
            },
        )
    }
}

/// A TCP stream whose writes fail once its [`Connection`] has been armed and the allowance is
/// spent.
#[derive(Debug)]
pub(crate) struct CuttableStream {
    stream: TcpStream,
    switch: Arc<Mutex<Switch>>,
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut switch = this.switch.lock().unwrap_or_else(PoisonError::into_inner);
        let (allowed, _) = switch.advance(buffer);
        if allowed == 0 && !buffer.is_empty() {
            *switch = Switch::Tripped;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "emulated connection reset",
            )));
        }
        match Pin::new(&mut this.stream).poll_write(context, &buffer[..allowed]) {
            Poll::Ready(Ok(written)) => {
                let (_, next) = switch.advance(&buffer[..written]);
                *switch = next;
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_switch_lets_the_head_and_the_allowance_through() {
        let armed = Switch::Armed {
            allowance: 3,
            head_matched: 0,
            head_done: false,
        };
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789";
        let head = response.len() - 10;
        let (allowed, next) = armed.advance(response);
        assert_eq!(allowed, head + 3);
        let (allowed, _) = next.advance(b"more");
        assert_eq!(allowed, 0);

        // The head split over two writes.
        let (allowed, next) = armed.advance(&response[..head - 2]);
        assert_eq!(allowed, head - 2);
        let (allowed, _) = next.advance(&response[head - 2..]);
        assert_eq!(allowed, 2 + 3);

        assert_eq!(Switch::Idle.advance(response).0, response.len());
        assert_eq!(Switch::Tripped.advance(response).0, 0);
    }
}
