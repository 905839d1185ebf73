//! A stand-in for a platform's gateway over plain HTTP: it reads each request whole (its headers
//! and as many body bytes as they announce), keeps its request line and body, and answers
//! `200 OK` with one JSON body, closing the connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A running stub: where it listens, and every request it read (`"<request line>\n<body>"`).
pub struct HttpStub {
    pub address: SocketAddr,
    pub seen: Arc<Mutex<Vec<String>>>,
}

/// A stub that answers every request with `body` (`application/json`).
pub async fn answering_json(body: impl Into<String>) -> HttpStub {
    let body: String = body.into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (kept, body) = (Arc::clone(&kept), body.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(request);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    HttpStub { address, seen }
}

/// One request's line and body (`"<request line>\n<body>"`), once its headers and the body
/// they announce are in; `None` when the client went away first.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.ok()?;
        request.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&request).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length || n == 0 {
                let line = text.lines().next().unwrap_or("");
                return Some(format!("{line}\n{}", &text[end + 4..]));
            }
        }
        if n == 0 {
            return None;
        }
    }
}
