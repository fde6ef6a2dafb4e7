//! tokio peer of cio's side-by-side benchmark: an echo server and an HTTP/1.1 "hello" server
//! (keep-alive, pipelining) written the plain tokio way, one task per connection on the
//! current-thread runtime, so cio's single-threaded servers are compared with tokio's; with
//! --workers N (N > 1) on the multi-thread runtime with N workers and its one accept loop
//! (the work-stealing comparison, bench/steal.sh).
//!
//! Usage: tokio_server --proto echo|http --listen 127.0.0.1:0 [--workers N]
//! Prints "listening on 127.0.0.1:PORT" once bound and exits cleanly on SIGINT or SIGTERM.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// The one response every HTTP peer sends, byte for byte the same across peers.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

/// Read buffer of an echo connection; a read that fills it is followed by another.
const ECHO_BUF: usize = 64 * 1024;
/// Largest request head an HTTP connection holds; a longer one closes the connection.
const HTTP_BUF: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Echo,
    Http,
}

fn usage() -> ExitCode {
    eprintln!("usage: tokio_server --proto echo|http --listen 127.0.0.1:PORT [--workers N]");
    ExitCode::from(2)
}

thread_local! {
    /// Read buffers lent per message, as cio-echo and the C peers do: an idle connection
    /// holds none (a 64 KiB buffer per connection would be most of its memory).
    static BUFFERS: RefCell<Vec<Vec<u8>>> = RefCell::new(Vec::new());
}

fn buffer_take() -> Vec<u8> {
    BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_else(|| vec![0u8; ECHO_BUF])
}

fn buffer_give(buf: Vec<u8>) {
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() < 64 {
            b.push(buf);
        }
    });
}

async fn echo(mut stream: TcpStream) {
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let mut buf = buffer_take();
        let n = match stream.try_read(&mut buf) {
            Ok(0) => 0,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                buffer_give(buf);
                continue;
            }
            Err(_) => 0,
        };
        let ok = n > 0 && stream.write_all(&buf[..n]).await.is_ok();
        buffer_give(buf);
        if !ok {
            return;
        }
    }
}

/// True when the request head carries "Connection: close" (header name and value compared
/// without regard to case).
fn wants_close(head: &[u8]) -> bool {
    for line in head.split(|&b| b == b'\n').skip(1) {
        const NAME: &[u8] = b"connection:";
        if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            continue;
        }
        let value = &line[NAME.len()..];
        let start = value.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(value.len());
        let value = &value[start..];
        return value.len() >= 5 && value[..5].eq_ignore_ascii_case(b"close");
    }
    false
}

async fn http(mut stream: TcpStream) {
    let finder = memmem::Finder::new(b"\r\n\r\n");
    let mut inbuf = vec![0u8; HTTP_BUF];
    let mut len = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if len == inbuf.len() {
            return; // a request head larger than the buffer: not for this server
        }
        let n = match stream.read(&mut inbuf[len..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        len += n;
        // Answer every complete request in the buffer with one write (pipelining).
        let mut pos = 0;
        let mut close = false;
        while let Some(end) = finder.find(&inbuf[pos..len]) {
            let head = &inbuf[pos..pos + end];
            pos += end + 4;
            out.extend_from_slice(RESPONSE);
            if wants_close(head) {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        inbuf.copy_within(pos..len, 0);
        len -= pos;
    }
}

fn main() -> ExitCode {
    let mut proto = None;
    let mut listen: Option<SocketAddr> = None;
    let mut workers: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--proto", Some(v)) if v == "echo" => proto = Some(Proto::Echo),
            ("--proto", Some(v)) if v == "http" => proto = Some(Proto::Http),
            ("--listen", Some(v)) => match v.parse() {
                Ok(addr) => listen = Some(addr),
                Err(_) => return usage(),
            },
            ("--workers", Some(v)) => match v.parse() {
                Ok(n) if n >= 1 => workers = n,
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let (proto, listen) = match (proto, listen) {
        (Some(p), Some(l)) => (p, l),
        _ => return usage(),
    };
    let runtime = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    match runtime {
        Ok(rt) => rt.block_on(serve(proto, listen)),
        Err(e) => {
            eprintln!("tokio_server: runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(proto: Proto, listen: SocketAddr) -> ExitCode {
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tokio_server: bind {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().expect("local_addr of a bound listener");
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {local}");
        let _ = stdout.flush();
    }

    let (mut sigint, mut sigterm) =
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(i), Ok(t)) => (i, t),
            _ => {
                eprintln!("tokio_server: cannot install signal handlers");
                return ExitCode::FAILURE;
            }
        };

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue, // e.g. EMFILE or a connection reset before accept
                };
                let _ = stream.set_nodelay(true);
                match proto {
                    Proto::Echo => tokio::spawn(echo(stream)),
                    Proto::Http => tokio::spawn(http(stream)),
                };
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    ExitCode::SUCCESS
}
