#![no_main]
//! A segment file's bytes, as `portcullis audit verify` and recovery read them: never a
//! panic; what is accepted as intact re-encodes to exactly the bytes it came from, and
//! a segment read to its end has nothing but zeros (preallocated space) after it.
use libfuzzer_sys::fuzz_target;
use portcullis_audit::segment::{encode_frame, parse_segment};

fuzz_target!(|input: &[u8]| {
    // The first byte picks the index the segment's name gives: none (a name that does not
    // parse), the largest, or a small one; the rest is the segment.
    let Some((&pick, bytes)) = input.split_first() else {
        return;
    };
    let first_index = match pick {
        0 => None,
        255 => Some(u64::MAX),
        n => Some(u64::from(n) - 1),
    };
    let mut reencoded = Vec::new();
    let (intact, problem) = parse_segment(bytes, first_index, |frame| {
        assert_eq!(frame.offset as usize, reencoded.len());
        let leaf = encode_frame(frame.index, &frame.event_json, &mut reencoded);
        assert_eq!(leaf, frame.leaf);
        Ok(())
    });
    let intact = intact as usize;
    assert_eq!(reencoded.len(), intact);
    assert_eq!(&bytes[..intact], reencoded.as_slice());
    if problem.is_none() {
        assert!(bytes[intact..].iter().all(|&b| b == 0));
    }
});
