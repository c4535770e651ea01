//! Properties of the Thrift framing a router relies on: whatever bytes arrive, reading
//! them never panics and never claims more than it was given; a real message cut short
//! is always "incomplete", never misread.

use l5d_thrift::codec::{header, message_len, struct_len, DecodeError, Encoding};
use l5d_thrift::ttwitter::read_request_header;
use proptest::prelude::*;

/// A strict-binary call with a string and a list-of-i32 argument.
fn call(name: &str, s: &[u8], list: &[i32]) -> Vec<u8> {
    let mut m = vec![0x80, 1, 0, 1];
    m.extend_from_slice(&(name.len() as i32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&9i32.to_be_bytes());
    m.extend_from_slice(&[11, 0, 1]);
    m.extend_from_slice(&(s.len() as i32).to_be_bytes());
    m.extend_from_slice(s);
    m.extend_from_slice(&[15, 0, 2, 8]);
    m.extend_from_slice(&(list.len() as i32).to_be_bytes());
    for i in list {
        m.extend_from_slice(&i.to_be_bytes());
    }
    m.push(0);
    m
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(n) = message_len(&bytes) {
            prop_assert!(n <= bytes.len());
        }
        let _ = header(&bytes);
        for enc in [Encoding::StrictBinary, Encoding::Compact] {
            if let Ok(n) = struct_len(&bytes, enc) {
                prop_assert!(n <= bytes.len());
            }
            if let Ok((_, n)) = read_request_header(&bytes, enc) {
                prop_assert!(n <= bytes.len());
            }
        }
    }

    #[test]
    fn real_messages_are_found_whole_and_cuts_are_incomplete(
        name in "[a-zA-Z_:]{1,20}",
        s in proptest::collection::vec(any::<u8>(), 0..100),
        list in proptest::collection::vec(any::<i32>(), 0..20),
        trailing in proptest::collection::vec(any::<u8>(), 0..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let m = call(&name, &s, &list);
        let h = header(&m).unwrap();
        prop_assert_eq!(&h.name, &name);
        prop_assert_eq!(h.seqid, 9);
        let mut with_more = m.clone();
        with_more.extend_from_slice(&trailing);
        prop_assert_eq!(message_len(&with_more), Ok(m.len()));
        let at = cut.index(m.len());
        prop_assert_eq!(message_len(&m[..at]), Err(DecodeError::Incomplete));
    }
}
