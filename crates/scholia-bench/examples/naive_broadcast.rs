//! The baseline `scholia-bench s2` is read against: the broadcast server anyone would write first
//! with tokio-tungstenite. One current-thread runtime, a task per socket, a `broadcast` channel,
//! and one `send` (write and flush) per frame. It speaks just enough of the Real Time API for
//! `scholia-bench worker hold` (it answers any text containing "ping" with a pong) and publishes
//! 1,000-byte stamped frames (about scholia's S2 frames) when told on stdin: a line `RATE COUNT`
//! sends COUNT frames at RATE/s, then prints `sent COUNT` on stdout. `scholia-bench peers` runs
//! S1 and S2 against it this way.
//!
//! ```text
//! cargo build --release -p scholia-bench --bin scholia-bench --example naive_broadcast
//! target/release/scholia-bench peers --peers naive      # or by hand:
//! taskset -c 0 target/release/examples/naive_broadcast 9555
//! taskset -c 1 target/release/scholia-bench worker hold --server 127.0.0.1:9555 \
//!     --conns 10000 --uri-template https://x/
//! ```
//! then read the server's CPU from /proc and the worker's counts (`count`, `report`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9555);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let (tx, _) = broadcast::channel::<Message>(4096);
    tokio::spawn(publish(tx.clone()));
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut events = tx.subscribe();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            loop {
                tokio::select! {
                    incoming = ws.next() => match incoming {
                        Some(Ok(Message::Text(t))) if t.contains("ping") => {
                            let pong = Message::text(r#"{"type":"pong","ok":true}"#);
                            if ws.send(pong).await.is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    event = events.recv() => match event {
                        Ok(frame) => if ws.send(frame).await.is_err() { return },
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    },
                }
            }
        });
    }
}

/// The size of every published frame, in bytes (scholia's S2 frames measure 1,001–1,003).
const FRAME_BYTES: usize = 1_000;

/// Publishes stamped frames as stdin asks, and says on stdout when each batch is out.
async fn publish(tx: broadcast::Sender<Message>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace().map(str::parse::<f64>);
        let (Some(Ok(rate)), Some(Ok(count))) = (words.next(), words.next()) else {
            eprintln!("expected `RATE COUNT`");
            continue;
        };
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
        let mut sent = 0u64;
        for _ in 0..count as u64 {
            tick.tick().await;
            let ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let head =
                format!(r#"{{"type":"annotation-notification","payload":[{{"text":"bstamp:{ns}; "#);
            let tail = r#""}]}"#;
            let padding = "x".repeat(FRAME_BYTES.saturating_sub(head.len() + tail.len()));
            // With no socket connected there is no receiver, and the send fails: not sent.
            if tx
                .send(Message::text(format!("{head}{padding}{tail}")))
                .is_ok()
            {
                sent += 1;
            }
        }
        let _ = stdout.write_all(format!("sent {sent}\n").as_bytes()).await;
        let _ = stdout.flush().await;
    }
}
