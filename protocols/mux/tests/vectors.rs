//! Every vector of `mux_vectors.json` (a copy of ../shared/spec/mux_vectors.json, checked
//! against the crates.io `mux` codec and captures of scales-rpc): each decodes, and
//! encoding it again gives the same bytes (but for the canonical type numbers of Rerr and
//! Tdiscarded, which linkerd sends as Finagle does: 127 and -62).

use bytes::{Bytes, BytesMut};
use l5d_mux::codec::{split_frame, types, Message, Reassembly};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_vector_decodes_and_encodes_back() {
    let text = include_str!("mux_vectors.json");
    let vectors: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
    assert_eq!(vectors.len(), 31);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let wire = hex(v["hex"].as_str().unwrap());
        let mut buf = BytesMut::from(&wire[..]);
        let mut r = Reassembly::default();
        let mut whole = None;
        let mut fragments = 0;
        while let Some(f) = split_frame(&mut buf).unwrap() {
            fragments += 1;
            if let Some(m) = r.push(f).unwrap() {
                assert!(whole.is_none(), "{name}: one message per vector");
                whole = Some(m);
            }
        }
        assert!(buf.is_empty(), "{name}: bytes left over");
        let (typ, tag, body) = whole.unwrap_or_else(|| panic!("{name}: no whole message"));
        let msg = Message::decode(typ, body.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let max_fragment = if fragments > 1 { 16 } else { usize::MAX };
        let mut out = BytesMut::new();
        msg.encode(tag, max_fragment, &mut out);
        let mut expected = wire.clone();
        // The canonical aliases are read, and Finagle's numbers written.
        if typ == types::RERR {
            expected[4] = types::RERR_LEGACY as u8;
        }
        if typ == types::TDISCARDED {
            expected[4] = types::TDISCARDED_LEGACY as u8;
        }
        assert_eq!(Bytes::from(out.to_vec()), Bytes::from(expected), "{name}");
    }
}

#[test]
fn the_vectors_mean_what_they_say() {
    let decode = |h: &str| {
        let mut buf = BytesMut::from(&hex(h)[..]);
        let f = split_frame(&mut buf).unwrap().unwrap();
        (f.tag, Message::decode(f.typ, f.body).unwrap())
    };
    let (tag, m) = decode("0000004802000002000000072f732f70696e67000200022f73000c2f232f696f2e6c35642e667300022f7800052f797c2f7a800100010000000470696e67000000000b000100000002686900");
    assert_eq!(tag, 2);
    let Message::Tdispatch(d) = m else { panic!() };
    assert_eq!(&d.dst[..], b"/s/ping");
    assert_eq!(&d.dtab[1].1[..], b"/y|/z");
    assert_eq!(&d.body[..2], b"\x80\x01");
    // Framed thrift read as Mux: an Rerr on tag 65537, the downgrade signal.
    let (tag, m) = decode("0000001a800100010000000470696e67000000000b000100000002686900");
    assert_eq!(tag, 65537);
    assert!(matches!(m, Message::Rerr(_)));
    let (_, m) = decode("0000001542000000000002436c69656e742074696d656f7574");
    assert_eq!(
        m,
        Message::Tdiscarded {
            tag: 2,
            why: Bytes::from_static(b"Client timeout")
        }
    );
}
