//! The connection over an in-memory pipe: the client side writes masked frames and reads the
//! server's with a small decoder of its own.

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::*;

fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads one unmasked server frame: (opcode, payload).
async fn server_frame(client: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0] & 0x80, 0x80, "the server's frames are final");
    assert_eq!(head[1] & 0x80, 0, "the server's frames are unmasked");
    let len = match head[1] & 0x7F {
        126 => client.read_u16().await.unwrap() as usize,
        127 => client.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    client.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0F, payload)
}

fn pair(pipe: usize) -> (Conn<DuplexStream>, DuplexStream) {
    let (server, client) = duplex(pipe);
    (Conn::new(server, &[], 1024, 256), client)
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload_while_reading() {
    let (mut conn, mut client) = pair(4096);
    client
        .write_all(&masked(0x9, b"are you there"))
        .await
        .unwrap();
    client.write_all(&masked(0x1, b"hello")).await.unwrap();
    assert_eq!(
        conn.next().await.unwrap().unwrap(),
        Message::Ping(Bytes::from_static(b"are you there"))
    );
    assert_eq!(
        conn.next().await.unwrap().unwrap(),
        Message::Text("hello".into())
    );
    assert_eq!(
        server_frame(&mut client).await,
        (0xA, b"are you there".to_vec())
    );
}

#[tokio::test]
async fn a_clients_close_is_answered_in_kind_and_ends_the_stream() {
    let (mut conn, mut client) = pair(4096);
    let mut payload = 4001u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"done");
    client.write_all(&masked(0x8, &payload)).await.unwrap();
    let got = conn.next().await.unwrap().unwrap();
    assert_eq!(
        got,
        Message::Close(Some(CloseFrame {
            code: 4001,
            reason: "done".into()
        }))
    );
    assert!(conn.next().await.is_none());
    assert_eq!(server_frame(&mut client).await, (0x8, payload));
    assert!(matches!(
        conn.send(Message::Text("late".into())).await,
        Err(ConnError::Closed)
    ));
}

#[tokio::test]
async fn the_servers_close_then_the_clients_reply_ends_the_stream() {
    let (mut conn, mut client) = pair(4096);
    conn.send(Message::Close(Some(CloseFrame {
        code: 1013,
        reason: "slow".into(),
    })))
    .await
    .unwrap();
    let (op, payload) = server_frame(&mut client).await;
    assert_eq!((op, &payload[..2]), (0x8, &1013u16.to_be_bytes()[..]));
    assert!(matches!(
        conn.send(Message::Text("late".into())).await,
        Err(ConnError::Closed)
    ));
    client.write_all(&masked(0x8, &payload[..2])).await.unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Ok(Message::Close(Some(_))))
    ));
    assert!(conn.next().await.is_none());
}

/// Many frames through a pipe far smaller than them: every write is partial, frames and their
/// order survive, and nothing stays queued once the flush is done.
#[tokio::test]
async fn a_batch_goes_out_whole_and_in_order_through_partial_writes() {
    let (mut conn, mut client) = pair(37);
    let frames: Vec<String> = (0..200).map(|i| format!("{i}:{}", "x".repeat(i))).collect();
    let reader = tokio::spawn(async move {
        let mut got = vec![];
        for _ in 0..200 {
            got.push(server_frame(&mut client).await);
        }
        got
    });
    for f in &frames {
        conn.feed(Message::Text(f.as_str().into())).await.unwrap();
    }
    conn.flush().await.unwrap();
    assert_eq!(conn.unwritten, 0);
    assert_eq!(
        conn.out.capacity(),
        0,
        "the frame list went back to the pool"
    );
    let got = reader.await.unwrap();
    for (f, (op, payload)) in frames.iter().zip(got) {
        assert_eq!(op, 0x1);
        assert_eq!(payload, f.as_bytes());
    }
}

#[tokio::test]
async fn bytes_read_with_the_handshake_are_decoded_first() {
    let (server, mut client) = duplex(4096);
    let mut conn = Conn::new(server, &masked(0x1, b"early"), 1024, 256);
    client.write_all(&masked(0x1, b"later")).await.unwrap();
    assert_eq!(
        conn.next().await.unwrap().unwrap(),
        Message::Text("early".into())
    );
    assert_eq!(
        conn.next().await.unwrap().unwrap(),
        Message::Text("later".into())
    );
}

#[tokio::test]
async fn refused_frames_and_a_dropped_peer_surface_as_such() {
    let (mut conn, mut client) = pair(4096);
    // Unmasked.
    client.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Err(ConnError::Wire(WireError::Protocol(_))))
    ));

    let (mut conn, client) = pair(4096);
    drop(client);
    assert!(conn.next().await.is_none());
}
