use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: masked, with the shortest length encoding unless `len_bytes` forces one.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

fn decode_all(bytes: &[u8], max: usize) -> Result<Vec<Message>, WireError> {
    let mut d = Decoder::new(max);
    d.push(bytes);
    let mut out = vec![];
    while let Some(m) = d.decode()? {
        out.push(m);
    }
    Ok(out)
}

#[test]
fn a_masked_text_frame_is_a_text_message_and_two_frames_come_out_in_order() {
    let mut bytes = client_frame(true, OP_TEXT, br#"{"type":"ping","id":1}"#);
    bytes.extend(client_frame(true, OP_BINARY, &[0, 255, 1]));
    let got = decode_all(&bytes, 1024).unwrap();
    assert_eq!(
        got,
        vec![
            Message::Text(r#"{"type":"ping","id":1}"#.into()),
            Message::Binary(vec![0, 255, 1].into())
        ]
    );
}

#[test]
fn a_frame_arriving_byte_by_byte_is_a_message_only_once_whole_and_leaves_no_buffer() {
    let text = "x".repeat(300);
    let bytes = client_frame(true, OP_TEXT, text.as_bytes());
    let mut d = Decoder::new(1024);
    for (i, b) in bytes.iter().enumerate() {
        d.push(std::slice::from_ref(b));
        let got = d.decode().unwrap();
        if i + 1 < bytes.len() {
            assert_eq!(
                got,
                None,
                "a message after {} of {} bytes",
                i + 1,
                bytes.len()
            );
        } else {
            assert_eq!(got, Some(Message::Text(text.as_str().into())));
        }
    }
    assert_eq!(d.buf.capacity(), 0, "an idle decoder keeps its buffer");
    assert!(d.fragments.is_none());
}

#[test]
fn every_length_encoding_reads_back() {
    for n in [0usize, 125, 126, 65535, 65536, 70_000] {
        let payload = vec![b'a'; n];
        let got = decode_all(&client_frame(true, OP_BINARY, &payload), 100_000).unwrap();
        assert_eq!(got, vec![Message::Binary(payload.into())], "length {n}");
    }
}

#[test]
fn fragments_join_with_control_frames_between_them() {
    // "é" split between two fragments: valid only once joined.
    let mut bytes = client_frame(false, OP_TEXT, b"caf\xc3");
    bytes.extend(client_frame(true, OP_PING, b"hi"));
    bytes.extend(client_frame(false, OP_CONTINUATION, b"\xa9 "));
    bytes.extend(client_frame(true, OP_CONTINUATION, b"noir"));
    let got = decode_all(&bytes, 1024).unwrap();
    assert_eq!(
        got,
        vec![
            Message::Ping(Bytes::from_static(b"hi")),
            Message::Text("café noir".into())
        ]
    );
}

#[test]
fn framing_rules_are_enforced() {
    let cases: Vec<(Vec<u8>, WireError)> = vec![
        // Unmasked.
        (
            vec![0x81, 0x02, b'h', b'i'],
            WireError::Protocol("a client's frames must be masked"),
        ),
        // RSV1 without permessage-deflate.
        (
            {
                let mut f = client_frame(true, OP_TEXT, b"hi");
                f[0] |= 0x40;
                f
            },
            WireError::Protocol("reserved bits set; no extension was agreed"),
        ),
        (
            client_frame(true, 0x3, b""),
            WireError::Protocol("unknown opcode"),
        ),
        (
            client_frame(true, 0xB, b""),
            WireError::Protocol("unknown opcode"),
        ),
        (
            client_frame(false, OP_PING, b""),
            WireError::Protocol("a control frame may not be fragmented"),
        ),
        (
            client_frame(true, OP_PONG, &[0; 126]),
            WireError::Protocol("a control frame carries at most 125 bytes"),
        ),
        (
            client_frame(true, OP_CONTINUATION, b"x"),
            WireError::Protocol("a continuation frame with no message to continue"),
        ),
        (
            [
                client_frame(false, OP_TEXT, b"a"),
                client_frame(true, OP_TEXT, b"b"),
            ]
            .concat(),
            WireError::Protocol("a new message began before the last one was complete"),
        ),
        (client_frame(true, OP_TEXT, b"\xff"), WireError::Utf8),
    ];
    for (bytes, want) in cases {
        assert_eq!(decode_all(&bytes, 1024), Err(want.clone()), "{want}");
    }
}

#[test]
fn an_oversized_frame_is_refused_from_its_header_and_an_oversized_message_from_its_fragments() {
    let mut d = Decoder::new(100);
    // Only the header of a 101-byte frame: refused before any payload arrives.
    d.push(&client_frame(true, OP_TEXT, &[b'a'; 101])[..6]);
    assert_eq!(d.decode(), Err(WireError::TooBig(100)));

    let bytes = [
        client_frame(false, OP_TEXT, &[b'a'; 60]),
        client_frame(true, OP_CONTINUATION, &[b'a'; 60]),
    ]
    .concat();
    assert_eq!(decode_all(&bytes, 100), Err(WireError::TooBig(100)));

    // A 64-bit length with its top bit set.
    let mut f = vec![0x82, 0xFF];
    f.extend_from_slice(&u64::MAX.to_be_bytes());
    f.extend_from_slice(&MASK);
    assert_eq!(
        decode_all(&f, 100),
        Err(WireError::Protocol("a 64-bit length's top bit is set"))
    );
}

#[test]
fn close_frames_carry_a_code_a_peer_may_send_and_a_utf8_reason() {
    assert_eq!(
        decode_all(&client_frame(true, OP_CLOSE, b""), 1024).unwrap(),
        vec![Message::Close(None)]
    );
    let mut p = 1001u16.to_be_bytes().to_vec();
    p.extend_from_slice("bye ✓".as_bytes());
    assert_eq!(
        decode_all(&client_frame(true, OP_CLOSE, &p), 1024).unwrap(),
        vec![Message::Close(Some(CloseFrame {
            code: 1001,
            reason: "bye ✓".into()
        }))]
    );
    for code in [3000u16, 4999, 1014] {
        let got = decode_all(&client_frame(true, OP_CLOSE, &code.to_be_bytes()), 1024);
        assert!(got.is_ok(), "code {code} refused");
    }
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            decode_all(&client_frame(true, OP_CLOSE, &code.to_be_bytes()), 1024),
            Err(WireError::Protocol("a close code a peer may not send")),
            "code {code}"
        );
    }
    assert_eq!(
        decode_all(&client_frame(true, OP_CLOSE, &[3]), 1024),
        Err(WireError::Protocol("a close frame of one byte"))
    );
    let mut bad = 1000u16.to_be_bytes().to_vec();
    bad.push(0xC0);
    assert_eq!(
        decode_all(&client_frame(true, OP_CLOSE, &bad), 1024),
        Err(WireError::Utf8)
    );
}

#[test]
fn outgoing_headers_use_the_shortest_length_and_close_reasons_fit_a_control_frame() {
    let f = Outgoing::new(OP_TEXT, Bytes::from(vec![b'a'; 125]));
    assert_eq!(f.head(), &[0x81, 125]);
    let f = Outgoing::new(OP_TEXT, Bytes::from(vec![b'a'; 126]));
    assert_eq!(f.head(), &[0x81, 126, 0, 126]);
    let f = Outgoing::new(OP_BINARY, Bytes::from(vec![b'a'; 65536]));
    assert_eq!(f.head(), &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(f.wire_len(), 10 + 65536);

    // 61 two-byte characters: the cut at 123 bytes would split one, so 122 go.
    let reason = "é".repeat(61);
    let f = Outgoing::of(Message::Close(Some(CloseFrame {
        code: 1013,
        reason: reason.as_str().into(),
    })))
    .unwrap();
    assert_eq!(f.opcode(), OP_CLOSE);
    assert_eq!(f.payload.len(), 2 + 122);
    assert_eq!(&f.payload[..2], &1013u16.to_be_bytes());
    assert!(std::str::from_utf8(&f.payload[2..]).is_ok());
    assert!(Outgoing::of(Message::Ping(Bytes::from(vec![0; 126]))).is_none());
}

#[test]
fn a_fragmented_text_message_is_refused_at_the_first_fragment_that_cannot_be_utf8() {
    let mut d = Decoder::new(1024);
    // A character cut between fragments is fine; a byte that can never be UTF-8 is not, and is
    // refused before the message's last fragment arrives.
    d.push(&client_frame(false, OP_TEXT, b"ok \xe2\x82"));
    assert_eq!(d.decode(), Ok(None));
    d.push(&client_frame(false, OP_CONTINUATION, b"\xac \xff"));
    assert_eq!(d.decode(), Err(WireError::Utf8));
}

#[test]
fn many_small_frames_in_one_read_decode_in_order_and_fragments_are_capped() {
    // 2,000 pings in one push: all come out, in order, and the buffer is released at the end.
    let mut bytes = vec![];
    for i in 0..2000u16 {
        bytes.extend(client_frame(true, OP_PING, &i.to_be_bytes()));
    }
    let mut d = Decoder::new(1024);
    d.push(&bytes);
    for i in 0..2000u16 {
        assert_eq!(
            d.decode(),
            Ok(Some(Message::Ping(Bytes::copy_from_slice(
                &i.to_be_bytes()
            ))))
        );
    }
    assert_eq!(d.decode(), Ok(None));
    assert_eq!(d.buf.capacity(), 0);

    // Empty continuation frames: the message is refused past MAX_FRAGMENTS.
    let mut bytes = client_frame(false, OP_TEXT, b"a");
    for _ in 0..MAX_FRAGMENTS {
        bytes.extend(client_frame(false, OP_CONTINUATION, b""));
    }
    assert_eq!(decode_all(&bytes, 1024), Err(WireError::TooBig(1024)));
}

#[test]
fn a_large_frames_buffer_is_given_back_when_only_a_little_follows() {
    let mut d = Decoder::new(100_000);
    let mut bytes = client_frame(true, OP_BINARY, &[7; 60_000]);
    let next = client_frame(true, OP_TEXT, b"hi");
    bytes.extend_from_slice(&next[..3]);
    d.push(&bytes);
    assert!(matches!(d.decode(), Ok(Some(Message::Binary(_)))));
    assert_eq!(d.decode(), Ok(None));
    d.push(&next[3..]);
    assert!(d.buf.capacity() <= SHRINK_ABOVE, "{}", d.buf.capacity());
    assert_eq!(d.decode(), Ok(Some(Message::Text("hi".into()))));
}
