//! Real TCP listeners of the simulated load balancer, and the in-process backends behind them:
//! agnhost `netexec` (`/clientip`, `/hostname`, `/echo`, `/dial`, `/healthz`) and a raw TCP echo.
//! One thread accepts per listener, one thread serves each connection; dropping the
//! [`Listener`] stops accepting.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::lb_route::{Backend, Decision, Route};

/// How long a connection may stay idle before the simulated backend gives up.
const IDLE: Duration = Duration::from_secs(5);
/// Largest HTTP request head the simulated netexec reads.
const MAX_HEAD: usize = 16 * 1024;

/// A listening load balancer port; dropping it closes the socket.
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Serves connections on `socket` (service port `port`) by `route`.
    pub fn spawn(
        socket: TcpListener,
        port: u16,
        route: Arc<RwLock<Route>>,
        counter: Arc<AtomicU64>,
    ) -> std::io::Result<Listener> {
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("sim-lb-{addr}"))
            .spawn(move || accept_loop(&socket, port, &route, &counter, &flag))?;
        Ok(Listener {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag and closes the socket.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    socket: &TcpListener,
    port: u16,
    route: &Arc<RwLock<Route>>,
    counter: &Arc<AtomicU64>,
    stop: &AtomicBool,
) {
    for stream in socket.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let route = Arc::clone(route);
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("sim-lb-conn".into())
            .spawn(move || serve(stream, port, &route, n));
        if let Err(err) = spawned {
            tracing::warn!("load balancer cannot serve a connection: {err}");
        }
    }
}

fn serve(stream: TcpStream, port: u16, route: &RwLock<Route>, n: u64) {
    let Ok(client) = stream.peer_addr() else {
        return;
    };
    let decision = route
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .decide(n, client, port);
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(IDLE));
    match decision {
        Decision::Reset(why) => {
            tracing::debug!("load balancer resets connection {n} from {client}: {why}");
            reset(stream);
        }
        Decision::Serve {
            pod,
            backend: Backend::Netexec { .. },
            seen,
            header,
            ..
        } => netexec(stream, &pod, seen, header.is_some()),
        Decision::Serve {
            backend: Backend::TcpEcho,
            header,
            ..
        } => echo(stream, header.as_deref()),
    }
}

/// Close with RST (linger 0), as a load balancer does when its backend is unreachable.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn echo(mut stream: TcpStream, header: Option<&str>) {
    if let Some(header) = header
        && stream.write_all(header.as_bytes()).is_err()
    {
        return;
    }
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Reads up to the end of the HTTP request head.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(head).ok()
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// agnhost netexec, one request per connection. A PROXY header in front of the request is what
/// netexec (a plain Go HTTP server) rejects as a malformed request.
fn netexec(mut stream: TcpStream, pod: &str, seen: SocketAddr, proxied: bool) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    if proxied {
        respond(&mut stream, "400 Bad Request", "400 Bad Request");
        return;
    }
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |key: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    match path {
        "/clientip" => respond(&mut stream, "200 OK", &seen.to_string()),
        "/hostname" => respond(&mut stream, "200 OK", pod),
        "/echo" => respond(&mut stream, "200 OK", &param("msg").unwrap_or_default()),
        "/healthz" => respond(&mut stream, "200 OK", ""),
        "/" => respond(
            &mut stream,
            "200 OK",
            &format!("NOW: {}", jiff::Timestamp::now()),
        ),
        "/dial" => {
            let (status, body) = dial(&param);
            respond(&mut stream, status, &body);
        }
        _ => respond(&mut stream, "404 Not Found", "404 page not found\n"),
    }
}

/// netexec's `/dial?host=&port=&request=&protocol=http&tries=`: HTTP requests made "from the
/// pod", answered as `{"responses": [...], "errors": [...]}`. Only loopback hosts are dialled.
fn dial(param: &dyn Fn(&str) -> Option<String>) -> (&'static str, String) {
    let host = param("host").unwrap_or_default();
    let port = param("port").and_then(|p| p.parse::<u16>().ok());
    let request = param("request").unwrap_or_else(|| "/hostname".into());
    let tries: u32 = param("tries").and_then(|t| t.parse().ok()).unwrap_or(1);
    let protocol = param("protocol").unwrap_or_else(|| "http".into());
    let ip = host.parse::<IpAddr>().ok().filter(IpAddr::is_loopback);
    let (Some(ip), Some(port)) = (ip, port) else {
        return (
            "400 Bad Request",
            format!("dial: host must be a loopback address and port a number, got {host:?}\n"),
        );
    };
    if protocol != "http" {
        return (
            "400 Bad Request",
            format!("dial: the simulator dials http only, not {protocol:?}\n"),
        );
    }
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..tries.min(100) {
        match get(SocketAddr::new(ip, port), &request) {
            Ok(body) => responses.push(body),
            Err(err) => errors.push(format!("dial {ip}:{port}: {err}")),
        }
    }
    (
        "200 OK",
        serde_json::json!({"responses": responses, "errors": errors}).to_string(),
    )
}

/// One HTTP/1.1 GET; the body of a 200 answer.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if head.starts_with("HTTP/1.1 200") {
        Ok(body.to_string())
    } else {
        Err(std::io::Error::other(
            head.lines().next().unwrap_or("no answer").to_string(),
        ))
    }
}
