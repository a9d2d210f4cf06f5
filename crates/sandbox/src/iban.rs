//! IBANs (ISO 13616) and UK sort code / account number identifiers.

/// The four-letter bank code of the synthetic bank ("Portcullis sandbox"). Chosen to look like
/// a UK bank code while being obviously ours.
pub(crate) const BANK_CODE: &str = "PCUL";
/// The synthetic bank's BIC, built from the bank code.
pub(crate) const BIC: &str = "PCULGB2L";

/// Whether `iban` is a well-formed IBAN with correct mod-97 check digits.
///
/// Accepts the electronic form only (no spaces, uppercase): two letters of country code, two
/// check digits, then 11 to 30 alphanumeric BBAN characters. GB IBANs must be 22 characters.
pub fn iban_is_valid(iban: &str) -> bool {
    let bytes = iban.as_bytes();
    if !(15..=34).contains(&bytes.len()) {
        return false;
    }
    if !bytes[..2].iter().all(u8::is_ascii_uppercase) || !bytes[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if !bytes[4..]
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    if &bytes[..2] == b"GB" && bytes.len() != 22 {
        return false;
    }
    // Move the first four characters to the end and read the whole as a base-36 number.
    let rearranged = bytes[4..].iter().chain(&bytes[..4]);
    mod97(rearranged.copied()) == Some(1)
}

/// The number formed by the alphanumeric characters (A=10 ... Z=35), modulo 97; `None` on any
/// other character.
fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        rem = if value < 10 {
            (rem * 10 + value) % 97
        } else {
            (rem * 100 + value) % 97
        };
    }
    Some(rem)
}

/// A GB IBAN for `sort_code` (6 digits) and `account_number` (8 digits) at the synthetic bank.
pub(crate) fn gb_iban(sort_code: &str, account_number: &str) -> String {
    let bban = format!("{BANK_CODE}{sort_code}{account_number}");
    // Check digits: 98 - (BBAN + "GB00" mod 97). The BBAN is built from our own digits and
    // letters, so `mod97` cannot fail; 0 keeps this total regardless.
    let rem = mod97(bban.bytes().chain(*b"GB00")).unwrap_or(0);
    format!("GB{:02}{bban}", 98 - rem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_published_example_ibans() {
        // Examples from the IBAN registry / ECBS documentation.
        assert!(iban_is_valid("GB82WEST12345698765432"));
        assert!(iban_is_valid("GB29NWBK60161331926819"));
        assert!(iban_is_valid("DE89370400440532013000"));
        assert!(iban_is_valid("NL91ABNA0417164300"));
    }

    #[test]
    fn rejects_bad_check_digits_and_shapes() {
        assert!(!iban_is_valid("GB83WEST12345698765432"));
        assert!(!iban_is_valid("GB82WEST12345698765433"));
        assert!(!iban_is_valid("gb82west12345698765432"));
        assert!(!iban_is_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(!iban_is_valid("GB82WEST1234569876543"));
        assert!(!iban_is_valid("GB"));
        assert!(!iban_is_valid(""));
        assert!(!iban_is_valid("GB82WEST12345698765432É"));
    }

    #[test]
    fn generated_ibans_are_valid() {
        for (sort, acc) in [
            ("000000", "00000000"),
            ("990123", "41234567"),
            ("123456", "99999999"),
        ] {
            let iban = gb_iban(sort, acc);
            assert_eq!(iban.len(), 22, "{iban}");
            assert!(iban.starts_with("GB"));
            assert!(iban.ends_with(&format!("{BANK_CODE}{sort}{acc}")));
            assert!(iban_is_valid(&iban), "{iban}");
        }
    }
}
