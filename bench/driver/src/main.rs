//! `lqdrive`: the LiveQuery load driver of `bench/` (run by bench/bench.py; not a test).
//!
//! ```text
//! lqdrive fanout <serverURL> <appId> <jsKey> <masterKey> <class> <clients> <rate/s> <seconds>
//! lqdrive idle   <serverURL> <appId> <jsKey> <connections> <hold-seconds> <class>
//! ```
//!
//! `fanout`: `clients` WebSockets subscribe to `{"match": true}` on `class`; objects are created
//! through REST at a fixed `rate`, alternately matching and not, each carrying its sequence
//! number. An event's latency runs from just before its write was sent to its arrival. Events
//! are not parsed whole, only searched for their sequence number, so that the driver is not
//! what limits the measurement. Prints one JSON line.
//!
//! `idle`: opens `connections` WebSockets, each connected with one subscription that nothing
//! matches, prints `{"held": n}` and holds them for `hold-seconds`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Writers: concurrent HTTP/1.1 keep-alive connections.
const WRITERS: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("runtime: {e}")),
    };
    match args.first().map(String::as_str) {
        Some("fanout") if args.len() == 9 => rt.block_on(fanout(&args[1..])),
        Some("idle") if args.len() == 7 => rt.block_on(idle(&args[1..])),
        _ => fail("usage: see the header of bench/driver/src/main.rs"),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("lqdrive: {msg}");
    std::process::exit(2)
}

fn num(s: &str) -> u64 {
    s.parse()
        .unwrap_or_else(|_| fail(&format!("not a number: {s}")))
}

/// Connects, subscribes to `where_` on `class`, and returns the socket once subscribed.
async fn open(url: &str, app: &str, js: &str, class: &str, where_: serde_json::Value) -> Ws {
    let (mut ws, _) = match tokio_tungstenite::connect_async(url).await {
        Ok(c) => c,
        Err(e) => fail(&format!("connect {url}: {e}")),
    };
    let hello = json!({"op": "connect", "applicationId": app, "javascriptKey": js});
    let sub =
        json!({"op": "subscribe", "requestId": 1, "query": {"className": class, "where": where_}});
    for frame in [hello, sub] {
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            fail("send failed");
        }
        match ws.next().await {
            Some(Ok(Message::Text(t))) if !t.contains("\"op\":\"error\"") => {}
            other => fail(&format!("unexpected answer: {other:?}")),
        }
    }
    ws
}

/// Opens `n` subscribed sockets, 100 at a time.
async fn open_many(
    n: usize,
    url: &str,
    app: &str,
    js: &str,
    class: &str,
    where_: serde_json::Value,
) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(100);
        let opened = futures_util::future::join_all(
            (0..batch).map(|_| open(url, app, js, class, where_.clone())),
        )
        .await;
        out.extend(opened);
    }
    out
}

/// The number after `"seq":` in an event frame.
fn seq_of(text: &str) -> Option<usize> {
    let at = text.find("\"seq\":")? + 6;
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

async fn fanout(a: &[String]) {
    let (base, app, js, master, class) = (&a[0], &a[1], &a[2], &a[3], &a[4]);
    let (clients, rate, seconds) = (num(&a[5]) as usize, num(&a[6]), num(&a[7]));
    let ws_url = base.replacen("http", "ws", 1);
    let total = (rate * seconds) as usize;
    let start = Instant::now();
    // Nanoseconds after `start` at which write i was sent (0: not yet).
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));

    let sockets = open_many(clients, &ws_url, app, js, class, json!({"match": true})).await;
    let mut readers = Vec::with_capacity(clients);
    for mut ws in sockets {
        let (sent, stop, delivered) = (sent.clone(), stop.clone(), delivered.clone());
        readers.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let next = tokio::time::timeout(Duration::from_millis(200), ws.next()).await;
                let Ok(Some(Ok(Message::Text(t)))) = next else {
                    continue;
                };
                let at = start.elapsed().as_nanos() as u64;
                if let Some(t0) = seq_of(t.as_str()).and_then(|i| sent.get(i)) {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    let t0 = t0.load(Ordering::Relaxed);
                    latencies.push(((at.saturating_sub(t0)) / 1_000) as u32);
                }
            }
            latencies
        }));
    }

    // The writers: each takes sequence numbers from a shared counter as they come due.
    let failed = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let host = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let path = format!(
        "/{}/classes/{class}",
        base.trim_start_matches("http://")
            .split_once('/')
            .map(|x| x.1)
            .unwrap_or("parse")
    );
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (rx, sent, failed, host, path, app, master) = (
            rx.clone(),
            sent.clone(),
            failed.clone(),
            host.clone(),
            path.clone(),
            app.clone(),
            master.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut conn = match TcpStream::connect(&host).await {
                Ok(c) => c,
                Err(e) => fail(&format!("connect {host}: {e}")),
            };
            let _ = conn.set_nodelay(true);
            let mut buf = vec![0u8; 16 << 10];
            loop {
                let Some(i) = rx.lock().await.recv().await else {
                    break;
                };
                let body = json!({"seq": i, "match": i % 2 == 0, "pad": "x".repeat(64)}).to_string();
                let req = format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Parse-Application-Id: {app}\r\nX-Parse-Master-Key: {master}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                sent[i].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if conn.write_all(req.as_bytes()).await.is_err() || !read_response(&mut conn, &mut buf).await {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut matching = 0usize;
    for i in 0..total {
        let due = Duration::from_nanos(i as u64 * 1_000_000_000 / rate);
        tokio::time::sleep_until((start + due).into()).await;
        if i % 2 == 0 {
            matching += 1;
        }
        let _ = tx.send(i);
    }
    drop(tx);
    for w in writers {
        let _ = w.await;
    }
    let write_secs = start.elapsed().as_secs_f64();
    // Let the last events arrive (up to 10 s).
    let expected = matching * clients;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (delivered.load(Ordering::Relaxed) as usize) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut all: Vec<u32> = Vec::new();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        if let Ok(l) = r.await {
            all.extend(l);
        }
    }
    all.sort_unstable();
    let pct = |p: f64| -> Option<f64> {
        (!all.is_empty()).then(|| {
            let i = ((p / 100.0) * all.len() as f64) as usize;
            f64::from(all[i.min(all.len() - 1)]) / 1000.0
        })
    };
    println!(
        "{}",
        json!({
            "rate": rate,
            "writes": total,
            "failed": failed.load(Ordering::Relaxed),
            "expected": expected,
            "delivered": all.len(),
            "p50_ms": pct(50.0),
            "p99_ms": pct(99.0),
            "max_ms": all.last().map(|m| f64::from(*m) / 1000.0),
            "achieved_write_rate": total as f64 / write_secs,
        })
    );
}

/// Reads one HTTP/1.1 response (headers, then a Content-Length body); true for a 2xx.
async fn read_response(conn: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut have = 0usize;
    loop {
        let n = match conn.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        have += n;
        let text = String::from_utf8_lossy(&buf[..have]);
        let Some(end) = text.find("\r\n\r\n") else {
            if have == buf.len() {
                return false;
            }
            continue;
        };
        let len = text[..end]
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        let ok = text.starts_with("HTTP/1.1 2");
        let mut rest = have - (end + 4);
        while rest < len {
            match conn.read(buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => rest += n,
            }
        }
        return ok;
    }
}

async fn idle(a: &[String]) {
    let (base, app, js) = (&a[0], &a[1], &a[2]);
    let (n, hold, class) = (num(&a[3]) as usize, num(&a[4]), &a[5]);
    let ws_url = base.replacen("http", "ws", 1);
    let held = open_many(n, &ws_url, app, js, class, json!({"never": true})).await;
    println!("{}", json!({"held": held.len()}));
    // Answer the server's pings while holding.
    let readers: Vec<_> = held
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let until = tokio::time::sleep(Duration::from_secs(hold));
                tokio::pin!(until);
                loop {
                    tokio::select! {
                        () = &mut until => break,
                        m = ws.next() => if m.is_none() { break },
                    }
                }
            })
        })
        .collect();
    for r in readers {
        let _ = r.await;
    }
}
