//! A minimal HTTP/1.1 client over one keep-alive connection: enough for `/health`
//! and the Engine.IO polling handshake. Bodies are read by Content-Length or chunked.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::{BenchError, Result};

pub struct HttpConn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl HttpConn {
    pub fn new(stream: TcpStream, port: u16) -> Self {
        HttpConn {
            stream: BufReader::new(stream),
            host: format!("127.0.0.1:{port}"),
        }
    }

    /// Sends one request and reads the whole response: (status, body).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(body) = body {
            head.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or(""));
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<(u16, String)> {
        let mut line = String::new();
        self.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BenchError::protocol(format!("bad status line {line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| BenchError::protocol(format!("bad chunk size {line:?}")))?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        }
        let body = String::from_utf8(body)
            .map_err(|_| BenchError::protocol("response body is not UTF-8"))?;
        Ok((status, body))
    }

    async fn read_line(&mut self, line: &mut String) -> Result<()> {
        if self.stream.read_line(line).await? == 0 {
            return Err(BenchError::protocol("connection closed mid-response"));
        }
        Ok(())
    }
}

/// `GET path` on a new connection: the status.
pub async fn get_status(port: u16, path: &str) -> Result<u16> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (status, _) = HttpConn::new(stream, port)
        .request("GET", path, None)
        .await?;
    Ok(status)
}
