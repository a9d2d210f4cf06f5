#![no_main]
//! An upstream's answer bytes: the head parser and the chunked decoder must refuse or
//! read them, never panic, and never produce more body than they were given.
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use portcullis_gateway::upstream::framing::{head_complete, parse_head, ChunkedDecoder, Framing, Step};

fuzz_target!(|input: &[u8]| {
    // The first byte says whether the request was HEAD and how far the scan for the
    // blank line had got; the rest is the answer.
    let Some((&flags, data)) = input.split_first() else { return };
    let from = usize::from(flags >> 1).min(data.len());
    let complete = head_complete(data, from);
    let Ok(Some((head, used))) = parse_head(data, flags & 1 == 1) else { return };
    assert!(used <= data.len());
    assert!(complete || from > used + 2, "a parsed head's blank line was not seen");
    if head.framing != Framing::Chunked {
        return;
    }
    let rest = &data[used..];
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::new();
    let (mut fed, mut produced) = (0, 0);
    loop {
        match decoder.decode(&mut buf) {
            Ok(Step::Data(d)) => produced += d.len(),
            Ok(Step::NeedMore) if fed < rest.len() => {
                // Odd-sized reads: boundaries must not change the outcome's safety.
                let next = (fed + 1 + fed % 7).min(rest.len());
                buf.extend_from_slice(&rest[fed..next]);
                fed = next;
            }
            Ok(Step::NeedMore) | Ok(Step::Done) | Err(_) => break,
        }
    }
    assert!(produced <= rest.len());
});
