use super::*;

/// Scans a whole string token (with its opening quote).
fn scan(token: &[u8]) -> Result<StrScan, ScanError> {
    string(token, 1)
}

fn err(at: usize, bad: Bad) -> Result<StrScan, ScanError> {
    Err(ScanError { at, bad })
}

#[test]
fn finds_the_end_of_valid_strings() {
    assert_eq!(
        scan(br#""""#),
        Ok(StrScan::Done {
            end: 2,
            escaped: false
        })
    );
    assert_eq!(
        scan(br#""abc" tail"#),
        Ok(StrScan::Done {
            end: 5,
            escaped: false
        })
    );
    assert_eq!(
        scan(br#""a\"b\\" x"#),
        Ok(StrScan::Done {
            end: 8,
            escaped: true
        })
    );
    assert!(scan(r#""ünï cødé \u00e9 \ud83d\ude00""#.as_bytes()).is_ok());
    assert_eq!(
        scan(b"\"\x7f\""),
        Ok(StrScan::Done {
            end: 3,
            escaped: false
        }),
        "DEL is not a control character in JSON"
    );
    // Long enough for the eight-byte steps, with the special byte at each position.
    for at in 1..20 {
        let mut token = vec![b'a'; 24];
        token[0] = b'"';
        token[at] = b'"';
        assert_eq!(
            scan(&token),
            Ok(StrScan::Done {
                end: at + 1,
                escaped: false
            })
        );
        token[at] = b'\n';
        assert_eq!(scan(&token), err(at, Bad::Control));
        token[at] = 0xff;
        assert_eq!(scan(&token), err(at, Bad::Utf8));
    }
}

#[test]
fn asks_for_more_at_a_resumable_point() {
    assert_eq!(scan(br#""abc"#), Ok(StrScan::More(4)));
    // Cut inside an escape: resume at the backslash.
    assert_eq!(scan(br#""ab\"#), Ok(StrScan::More(3)));
    assert_eq!(scan(br#""ab\u00"#), Ok(StrScan::More(3)));
    assert_eq!(scan(br#""\ud83d\ude0"#), Ok(StrScan::More(1)));
    assert_eq!(scan(br#""\ud83d"#), Ok(StrScan::More(1)));
    // Cut inside a multi-byte character: resume at its first byte.
    assert_eq!(scan(b"\"a\xc3"), Ok(StrScan::More(2)));
    assert_eq!(scan(b"\"a\xf0\x9f\x98"), Ok(StrScan::More(2)));
}

#[test]
fn rejects_at_the_first_bad_byte() {
    assert_eq!(scan(b"\"ab\ncd\""), err(3, Bad::Control));
    assert_eq!(scan(b"\"\x00\""), err(1, Bad::Control));
    assert_eq!(scan(br#""a\x""#), err(3, Bad::Escape));
    assert_eq!(scan(br#""\u12g4""#), err(5, Bad::Hex));
    assert_eq!(scan(br#""\u12"4""#), err(5, Bad::Hex));
    assert_eq!(scan(br#""\ud800""#), err(1, Bad::Surrogate));
    assert_eq!(scan(br#""\ud800\n""#), err(1, Bad::Surrogate));
    assert_eq!(scan(br#""\ud800\u0041""#), err(1, Bad::Surrogate));
    assert_eq!(scan(br#""x\udc00""#), err(2, Bad::Surrogate));
    assert_eq!(scan(br#""\ud800\uZ""#), err(9, Bad::Hex));
    // Overlong, encoded surrogate, beyond U+10FFFF, stray continuation byte.
    assert_eq!(scan(b"\"a\xc0\x80\""), err(2, Bad::Utf8));
    assert_eq!(scan(b"\"\xed\xa0\x80\""), err(1, Bad::Utf8));
    assert_eq!(scan(b"\"\xf5\x80\x80\x80\""), err(1, Bad::Utf8));
    assert_eq!(scan(b"\"ab\x80\""), err(3, Bad::Utf8));
    // A character cut short by the closing quote or an escape.
    assert_eq!(scan(b"\"a\xc3\""), err(2, Bad::Utf8));
    assert_eq!(scan(b"\"a\xe2\x82\\n\""), err(2, Bad::Utf8));
    // The first problem wins, whatever its kind.
    assert_eq!(scan(b"\"\x01\xff\""), err(1, Bad::Control));
    assert_eq!(scan(b"\"\xff\x01\""), err(1, Bad::Utf8));
}

/// Scanning a prefix and resuming on the whole gives the whole's verdict at every split.
#[test]
fn any_split_gives_the_same_verdict() {
    let samples: [&[u8]; 9] = [
        br#""plain ascii" "#,
        r#""é😀\u00e9\ud83d\ude00\"\\""#.as_bytes(),
        br#""\ud800\u0041""#,
        br#""\u12g4""#,
        b"\"ab\x80cd\"",
        b"\"ab\ncd\"",
        b"\"\xe2\x82\xac\xe2\x82\"",
        br#""unterminated \"#,
        br#""unterminated"#,
    ];
    for sample in samples {
        // `escaped` only covers the part one call scanned, so compare ends and errors.
        let end = |scan: Result<StrScan, ScanError>| {
            scan.map(|s| match s {
                StrScan::Done { end, .. } => Some(end),
                StrScan::More(_) => None,
            })
        };
        let whole = end(scan(sample));
        for cut in 1..sample.len() {
            let verdict = match scan(&sample[..cut]) {
                Ok(StrScan::More(resume)) => end(string(sample, resume)),
                other => end(other),
            };
            assert_eq!(
                verdict,
                whole,
                "{:?} cut at {cut}",
                String::from_utf8_lossy(sample)
            );
        }
    }
}

#[test]
fn number_grammar() {
    for ok in [
        "0",
        "-0",
        "12",
        "-12.5",
        "0.5e10",
        "1E+2",
        "1e-0",
        "123456789012345678901234567890",
    ] {
        assert_eq!(number(ok.as_bytes()), Ok(()), "{ok}");
    }
    let cases = [
        ("01", 1, "no leading zeros in a number"),
        ("-01", 2, "no leading zeros in a number"),
        ("-", 1, "a digit"),
        ("+1", 0, "a digit"),
        (".5", 0, "a digit"),
        ("1.", 2, "a digit after the decimal point"),
        ("1.e3", 2, "a digit after the decimal point"),
        ("1e", 2, "a digit in the exponent"),
        ("1e+", 3, "a digit in the exponent"),
        ("1-2", 1, "the end of the number"),
        ("1.2.3", 3, "the end of the number"),
        ("--1", 1, "a digit"),
    ];
    for (tok, at, expected) in cases {
        assert_eq!(
            number(tok.as_bytes()),
            Err(ScanError {
                at,
                bad: Bad::Number(expected)
            }),
            "{tok}"
        );
    }
    assert_eq!(number_len(b"-12.5e+3,"), 8);
    assert_eq!(number_len(b"12"), 2);
}

#[test]
fn literal_prefixes() {
    assert_eq!(literal_mismatch(b"tr", b"true"), None);
    assert_eq!(literal_mismatch(b"trux", b"true"), Some(3));
    assert_eq!(literal_for(b'f'), b"false");
}

#[test]
fn unescapes_to_utf8() {
    let cases: [(&[u8], &str); 7] = [
        (b"plain", "plain"),
        (br#"a\"b\\c\/d"#, "a\"b\\c/d"),
        (br"\b\f\n\r\t", "\u{8}\u{c}\n\r\t"),
        (br"Document\u004eumber", "DocumentNumber"),
        (br"\ud83d\ude00!", "😀!"),
        (br"\u00e9t\u00E9", "été"),
        ("déjà".as_bytes(), "déjà"),
    ];
    for (raw, want) in cases {
        let mut out = Vec::new();
        unescape(raw, &mut out);
        assert_eq!(out, want.as_bytes(), "{raw:?}");
    }
    // Unvalidated input must not panic.
    for raw in [
        &br"\"[..],
        br"\u12",
        br"\ud800",
        br"\ud800\u",
        br"\uZZZZ",
        b"\\\xff",
    ] {
        let mut out = Vec::new();
        unescape(raw, &mut out);
    }
}
