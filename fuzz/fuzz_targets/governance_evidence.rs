#![no_main]
//! Onboarding evidence and contracts as an operator (or an attacker with an operator
//! token) may send them: parsing and every check never panic, at any date.
use libfuzzer_sys::fuzz_target;
use portcullis_control_plane::governance::evidence::{
    Contract, DueDiligence, Evidence, SecurityAssessment, UseCase,
};

fn check<E: Evidence>(data: &[u8]) -> Option<E> {
    let document: E = serde_json::from_slice(data).ok()?;
    let _ = document.problems();
    Some(document)
}

fuzz_target!(|data: &[u8]| {
    let _ = check::<UseCase>(data);
    if let Some(dd) = check::<DueDiligence>(data) {
        // From before the epoch to far in the future: date arithmetic must not overflow.
        for now in [i64::MIN, -1, 0, 1_800_000_000, 253_402_300_799, i64::MAX] {
            let _ = dd.gaps_at(now);
        }
    }
    if let Some(a) = check::<SecurityAssessment>(data) {
        let _ = a.open_findings();
    }
    let _ = check::<Contract>(data);
});
