//! The Mux codec never panics on any input, and what it encodes it decodes back, however
//! small the fragments.

use bytes::{Bytes, BytesMut};
use l5d_mux::codec::{split_frame, Message, Rdispatch, Reassembly, Status, Tdispatch};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn message() -> impl Strategy<Value = Message> {
    let pairs = || proptest::collection::vec((bytes(20), bytes(20)), 0..4);
    prop_oneof![
        (pairs(), bytes(20), pairs(), bytes(200)).prop_map(|(contexts, dst, dtab, body)| {
            Message::Tdispatch(Tdispatch {
                contexts,
                dst,
                dtab,
                body,
            })
        }),
        (0u8..3, pairs(), bytes(200)).prop_map(|(s, contexts, body)| {
            let status = [Status::Ok, Status::Error, Status::Nack][s as usize].clone();
            Message::Rdispatch(Rdispatch {
                status,
                contexts,
                body,
            })
        }),
        Just(Message::Tping),
        Just(Message::Rdrain),
        (0u32..0x7f_ffff, bytes(30)).prop_map(|(tag, why)| Message::Tdiscarded { tag, why }),
        any::<i64>().prop_map(|h| Message::Tlease {
            unit: 0,
            howmuch: h
        }),
        proptest::collection::vec((bytes(10), bytes(10)), 0..3).prop_map(|headers| {
            Message::Tinit {
                version: 1,
                headers,
            }
        }),
        bytes(30).prop_map(Message::Rerr),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut buf = BytesMut::from(&input[..]);
        let mut r = Reassembly::default();
        while let Ok(Some(f)) = split_frame(&mut buf) {
            if let Ok(Some((typ, _, body))) = r.push(f) {
                let _ = Message::decode(typ, body);
            }
        }
    }

    #[test]
    fn messages_round_trip_through_fragments(
        m in message(),
        tag in 2u32..0x7f_ffff,
        max_fragment in 1usize..64,
    ) {
        let mut out = BytesMut::new();
        m.encode(tag, max_fragment, &mut out);
        let mut r = Reassembly::default();
        let mut whole = None;
        while let Some(f) = split_frame(&mut out).unwrap() {
            if let Some(w) = r.push(f).unwrap() {
                whole = Some(w);
            }
        }
        let (typ, got_tag, body) = whole.unwrap();
        prop_assert_eq!(got_tag, tag);
        prop_assert_eq!(Message::decode(typ, body).unwrap(), m);
    }
}
