//! The little of Redis that LiveQuery's bus needs — `AUTH`, `SELECT`, `PUBLISH` and `SUBSCRIBE`
//! over RESP — spoken directly on a TCP connection, so that Redis needs no client library.
//! Payloads are binary-safe bulk strings of any size.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub address: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<u32>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("not a redis:// URL: {url}"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, "")) => (h, None),
            Some((h, d)) => (
                h,
                Some(
                    d.parse::<u32>()
                        .map_err(|_| format!("bad database number in {url}"))?,
                ),
            ),
            None => (rest, None),
        };
        if hostport.is_empty() {
            return Err(format!("no host in {url}"));
        }
        let address = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:6379")
        };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some(("", p)) => (None, Some(p.to_string())),
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (None, Some(a.to_string())),
            },
        };
        Ok(Self {
            address,
            user,
            password,
            db,
        })
    }
}

/// One connection: commands out, replies in.
pub struct Connection {
    io: BufReader<TcpStream>,
}

/// A RESP value, as far as these commands answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn io_err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// The most a reply may hold: one event is far smaller.
const MAX_BULK: usize = 64 << 20;

impl Connection {
    /// Connects, authenticates and selects the database.
    pub async fn open(e: &Endpoint) -> std::io::Result<Self> {
        let stream = TcpStream::connect(&e.address).await?;
        stream.set_nodelay(true)?;
        let mut c = Self {
            io: BufReader::new(stream),
        };
        if let Some(p) = &e.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = &e.user {
                args.push(u.as_bytes());
            }
            args.push(p.as_bytes());
            c.ok(&args).await?;
        }
        if let Some(db) = e.db {
            c.ok(&[b"SELECT", db.to_string().as_bytes()]).await?;
        }
        Ok(c)
    }

    /// Sends a command without waiting for its reply.
    pub async fn send(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.io.get_mut().write_all(&buf).await
    }

    /// Sends a command and fails unless Redis answers without an error.
    async fn ok(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        self.send(args).await?;
        match self.read().await? {
            Reply::Error(e) => Err(io_err(format!("redis: {e}"))),
            r => Ok(r),
        }
    }

    /// `PUBLISH channel payload`.
    pub async fn publish(&mut self, channel: &str, payload: &[u8]) -> std::io::Result<()> {
        self.ok(&[b"PUBLISH", channel.as_bytes(), payload])
            .await
            .map(|_| ())
    }

    /// `SUBSCRIBE channel`; then [`Self::message`] yields what is published there.
    pub async fn subscribe(&mut self, channel: &str) -> std::io::Result<()> {
        self.ok(&[b"SUBSCRIBE", channel.as_bytes()])
            .await
            .map(|_| ())
    }

    /// The next message published on a subscribed channel.
    pub async fn message(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Reply::Array(parts) = self.read().await?
                && let [Reply::Bulk(Some(kind)), _, Reply::Bulk(Some(payload))] = parts.as_slice()
                && kind == b"message"
            {
                return Ok(payload.clone());
            }
        }
    }

    /// Reads one reply.
    pub async fn read(&mut self) -> std::io::Result<Reply> {
        Box::pin(self.read_inner()).await
    }

    async fn read_inner(&mut self) -> std::io::Result<Reply> {
        let mut line = Vec::new();
        if self.io.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "redis closed the connection",
            ));
        }
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(io_err("malformed reply"));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let number = || body.parse::<i64>().map_err(|_| io_err("bad length"));
        Ok(match line[0] {
            b'+' => Reply::Simple(body),
            b'-' => Reply::Error(body),
            b':' => Reply::Int(number()?),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let n = usize::try_from(n).map_err(|_| io_err("bad length"))?;
                    if n > MAX_BULK {
                        return Err(io_err("reply too large"));
                    }
                    let mut data = vec![0u8; n + 2];
                    self.io.read_exact(&mut data).await?;
                    data.truncate(n);
                    Reply::Bulk(Some(data))
                }
            }
            b'*' => {
                let n = number()?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(Box::pin(self.read_inner()).await?);
                }
                Reply::Array(items)
            }
            _ => return Err(io_err("unknown reply type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_urls() {
        let e = Endpoint::parse("redis://127.0.0.1:6380/2").expect("parses");
        assert_eq!(e.address, "127.0.0.1:6380");
        assert_eq!(e.db, Some(2));
        assert_eq!(e.password, None);
        let e = Endpoint::parse("redis://:s3cret@cache").expect("parses");
        assert_eq!(e.address, "cache:6379");
        assert_eq!(e.password.as_deref(), Some("s3cret"));
        assert_eq!(e.user, None);
        let e = Endpoint::parse("redis://app:pw@cache:1/").expect("parses");
        assert_eq!(e.user.as_deref(), Some("app"));
        assert_eq!(e.db, None);
        assert!(Endpoint::parse("http://x").is_err());
        assert!(Endpoint::parse("redis://").is_err());
        assert!(Endpoint::parse("redis://h/x").is_err());
    }
}
