//! A MaxMind DB (format 2.0) written by the test itself, from the format's specification:
//! a 24-bit-record IPv4 search tree, a data section of `{"country": {"iso_code": ..}}`
//! maps, and the metadata map. The region table must read it like GeoLite2-Country.

use std::net::IpAddr;

use super::RegionTable;
use crate::config::{GeographyConfig, RegionRange};

/// Control byte and size for a type: 2 string, 5 uint16, 6 uint32, 7 map; extended types
/// (9 uint64, 11 array) put 0 in the type bits and `type - 7` in the next byte.
fn head(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 29);
    if kind <= 7 {
        out.push(kind << 5 | size as u8);
    } else {
        out.push(size as u8);
        out.push(kind - 7);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    head(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    head(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds the database for `(prefix, prefix length, country)` entries.
fn mmdb(entries: &[([u8; 4], u32, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut tree: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for (prefix, len, country) in entries {
        let offset = data.len();
        head(&mut data, 7, 1);
        string(&mut data, "country");
        head(&mut data, 7, 1);
        string(&mut data, "iso_code");
        string(&mut data, country);
        let bits = u32::from_be_bytes(*prefix);
        let mut node = 0;
        for i in 0..*len {
            let bit = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == *len {
                tree[node][bit] = Record::Data(offset);
            } else {
                node = match tree[node][bit] {
                    Record::Node(n) => n,
                    _ => {
                        tree.push([Record::Empty; 2]);
                        tree[node][bit] = Record::Node(tree.len() - 1);
                        tree.len() - 1
                    }
                };
            }
        }
    }
    let node_count = tree.len();
    let mut out = Vec::new();
    for node in &tree {
        for record in node {
            let value = match *record {
                Record::Empty => node_count,
                Record::Node(n) => n,
                Record::Data(offset) => node_count + 16 + offset,
            };
            out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    head(&mut out, 7, 9);
    string(&mut out, "binary_format_major_version");
    uint(&mut out, 5, 2);
    string(&mut out, "binary_format_minor_version");
    uint(&mut out, 5, 0);
    string(&mut out, "build_epoch");
    uint(&mut out, 9, 1_800_000_000);
    string(&mut out, "database_type");
    string(&mut out, "Portcullis-Test-Country");
    string(&mut out, "description");
    head(&mut out, 7, 0);
    string(&mut out, "ip_version");
    uint(&mut out, 5, 4);
    string(&mut out, "languages");
    head(&mut out, 11, 1);
    string(&mut out, "en");
    string(&mut out, "node_count");
    uint(&mut out, 6, node_count as u64);
    string(&mut out, "record_size");
    uint(&mut out, 5, 24);
    out
}

#[test]
fn a_maxmind_database_names_countries_and_the_table_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("country.mmdb");
    std::fs::write(
        &path,
        mmdb(&[([81, 2, 0, 0], 16, "GB"), ([103, 4, 0, 0], 16, "SG")]),
    )
    .unwrap();
    let config = GeographyConfig {
        maxmind_db: Some(path.clone()),
        regions: vec![RegionRange {
            region: "GB-office".into(),
            cidrs: vec!["81.2.7.0/24".into()],
        }],
        ..GeographyConfig::default()
    };
    let table = RegionTable::from_config(&config).unwrap();
    let at = |a: &str| table.region_of(a.parse::<IpAddr>().unwrap());
    assert_eq!(at("81.2.69.160"), Some("GB"));
    assert_eq!(at("103.4.96.1"), Some("SG"));
    assert_eq!(at("81.2.7.9"), Some("GB-office"), "the table comes first");
    assert_eq!(at("192.0.2.1"), None);
    assert_eq!(at("2001:db8::1"), None);

    // Anything else named as the database is refused at start, naming the field.
    std::fs::write(&path, b"not a database").unwrap();
    let err = RegionTable::from_config(&config).unwrap_err();
    assert!(err.contains("monitor.geography.maxmind_db"), "{err}");
}
