//! `probe`: a health check without curl in the container image.

use std::process::ExitCode;

/// A minimal HTTP/1.1 GET for health checks.
pub(super) fn probe(url: &str) -> ExitCode {
    use std::io::{Read as _, Write as _};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("error: only http:// URLs are probed");
        return ExitCode::from(2);
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let timeout = std::time::Duration::from_secs(3);
    let answer = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .and_then(|addr| std::net::TcpStream::connect_timeout(&addr, timeout).ok())
        .and_then(|mut stream| {
            stream.set_read_timeout(Some(timeout)).ok()?;
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).ok()?;
            Some(head)
        });
    match answer {
        Some(head) if head.starts_with(b"HTTP/1.1 200") => ExitCode::SUCCESS,
        Some(head) => {
            eprintln!("unhealthy: {}", String::from_utf8_lossy(&head));
            ExitCode::FAILURE
        }
        None => {
            eprintln!("unhealthy: no answer from {url}");
            ExitCode::FAILURE
        }
    }
}
