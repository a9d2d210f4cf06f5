//! Built-in word lists for the synthetic bank.
//!
//! Person names are common UK names combined at random; businesses, streets and merchants are
//! invented. Contact details use reserved ranges (`example.com` e-mail, Ofcom's 07700 900xxx
//! drama numbers), so nothing here reaches a real person.

pub(crate) const MALE_GIVEN_NAMES: &[&str] = &[
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Charlie", "Thomas",
    "Samuel", "Daniel", "Rohan", "Kwame", "Tomasz", "Callum", "Euan", "Rhys", "Aled", "Imran",
];

pub(crate) const FEMALE_GIVEN_NAMES: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Freya", "Grace", "Sophie", "Chloe", "Priya",
    "Aisha", "Niamh", "Siobhan", "Zofia", "Eilidh", "Cerys", "Hannah", "Ellie", "Ngozi", "Mei",
];

pub(crate) const FAMILY_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Hughes",
    "Edwards",
    "Murphy",
    "Kowalski",
    "Okafor",
    "MacLeod",
    "Fraser",
    "Pritchard",
    "Chen",
    "Nowak",
];

pub(crate) const STREETS: &[&str] = &[
    "Acacia Avenue",
    "Juniper Close",
    "Mill Lane",
    "Station Road",
    "Kestrel Way",
    "Orchard Grove",
    "Foundry Street",
    "Larkspur Drive",
    "Canal Walk",
    "Beacon Hill Road",
    "Willowbank Crescent",
    "Quarry Terrace",
    "Harebell Gardens",
    "Tannery Row",
];

/// Town and the postcode area letters used there.
pub(crate) const TOWNS: &[(&str, &str)] = &[
    ("London", "E"),
    ("Leeds", "LS"),
    ("Manchester", "M"),
    ("Bristol", "BS"),
    ("Edinburgh", "EH"),
    ("Cardiff", "CF"),
    ("Glasgow", "G"),
    ("Norwich", "NR"),
    ("York", "YO"),
    ("Brighton", "BN"),
    ("Nottingham", "NG"),
    ("Belfast", "BT"),
    ("Exeter", "EX"),
    ("Oxford", "OX"),
];

/// Letters allowed in the inward part of a UK postcode.
pub(crate) const POSTCODE_UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// Nationalities (ISO 3166-1 alpha-2), weighted towards GB by repetition.
pub(crate) const NATIONALITIES: &[&str] = &["GB", "GB", "GB", "GB", "GB", "IE", "PL", "IN", "NG"];

pub(crate) const EMPLOYERS: &[&str] = &[
    "Harbourline Logistics Ltd",
    "Kestrel Analytics Ltd",
    "Meridian Widget Co",
    "Foxglove Design Studio Ltd",
    "Ashdown Engineering plc",
    "Riverside Academy Trust",
    "Brackenfield Borough Council",
    "Lanternfish Software Ltd",
];

pub(crate) const NICKNAMES_CURRENT: &[&str] = &["Everyday", "Main account", "Bills", "Current"];
pub(crate) const NICKNAMES_SAVINGS: &[&str] =
    &["Rainy day", "Holiday pot", "House deposit", "Savings"];

/// A fixed monthly direct debit.
pub(crate) struct Bill {
    pub(crate) payee: &'static str,
    /// Amount range in pence; each customer pays one fixed amount from it.
    pub(crate) min_pence: i64,
    pub(crate) max_pence: i64,
    /// Day of the month it is collected.
    pub(crate) day: u8,
}

const fn bill(payee: &'static str, min_pence: i64, max_pence: i64, day: u8) -> Bill {
    Bill {
        payee,
        min_pence,
        max_pence,
        day,
    }
}

pub(crate) const BILLS: &[Bill] = &[
    bill("BRACKENFIELD BC CTAX", 11_000, 22_000, 1),
    bill("BRIGHTWATER ENERGY", 6_000, 18_000, 5),
    bill("VALLEYSTREAM WATER", 2_500, 5_000, 9),
    bill("FLICKBOX STREAMING", 799, 1_799, 12),
    bill("SKYLARK BROADBAND", 2_500, 4_500, 15),
    bill("CHATTERBOX MOBILE", 1_000, 4_000, 18),
    bill("IRONWORKS GYM", 2_000, 5_000, 3),
];

/// Housing payees: (payee, is mortgage).
pub(crate) const HOUSING: &[(&str, bool)] = &[
    ("OAKMERE LETTINGS", false),
    ("HOLLYBROOK PROPERTY MGMT", false),
    ("PENNANT BUILDING SOC", true),
    ("CASTLEGATE HOME LOANS", true),
];

/// A card merchant: name, ISO 18245 merchant category code, amount range in pence, and how
/// often it is picked relative to the others.
pub(crate) struct Merchant {
    pub(crate) name: &'static str,
    pub(crate) mcc: &'static str,
    pub(crate) min_pence: i64,
    pub(crate) max_pence: i64,
    pub(crate) weight: u64,
}

const fn merchant(
    name: &'static str,
    mcc: &'static str,
    min_pence: i64,
    max_pence: i64,
    weight: u64,
) -> Merchant {
    Merchant {
        name,
        mcc,
        min_pence,
        max_pence,
        weight,
    }
}

pub(crate) const MERCHANTS: &[Merchant] = &[
    merchant("Greenleaf Grocers", "5411", 800, 9_500, 10),
    merchant("Corner Basket Market", "5411", 250, 2_500, 8),
    merchant("Hillside Fresh Foods", "5411", 1_500, 11_000, 5),
    merchant("Bean & Bramble", "5814", 250, 650, 9),
    merchant("Steamline Coffee", "5814", 280, 900, 6),
    merchant("The Copper Kettle", "5812", 1_500, 6_500, 3),
    merchant("Saffron Lane Kitchen", "5812", 1_800, 8_500, 3),
    merchant("Little Napoli Pizzeria", "5812", 1_200, 4_500, 3),
    merchant("The Wandering Heron", "5813", 450, 4_800, 4),
    merchant("Metroline Travel", "4111", 175, 950, 8),
    merchant("Northline Rail", "4112", 1_200, 9_800, 2),
    merchant("Swift Cabs", "4121", 850, 3_200, 3),
    merchant("Roadstar Fuel", "5541", 3_500, 8_500, 3),
    merchant("Parcelbox Online", "5999", 600, 12_000, 5),
    merchant("Pageturner Books", "5942", 500, 4_000, 2),
    merchant("Wellspring Pharmacy", "5912", 300, 2_500, 3),
    merchant("Starlight Cinema", "7832", 800, 3_000, 2),
    merchant("Threadwell Clothing", "5651", 1_500, 9_000, 2),
    merchant("Fixit Hardware", "5251", 400, 6_000, 2),
];

/// References on person-to-person transfers.
pub(crate) const P2P_REFERENCES: &[&str] = &[
    "DINNER",
    "TICKETS",
    "BIRTHDAY",
    "THANKS",
    "HOLIDAY SHARE",
    "TAXI",
    "GIFT",
    "LOAN REPAY",
];

// The generator picks from these lists by index; an empty list would be a programming error,
// so it is caught at compile time rather than at run time.
const _: () = {
    assert!(!MALE_GIVEN_NAMES.is_empty());
    assert!(!FEMALE_GIVEN_NAMES.is_empty());
    assert!(!FAMILY_NAMES.is_empty());
    assert!(!STREETS.is_empty());
    assert!(!TOWNS.is_empty());
    assert!(!POSTCODE_UNIT_LETTERS.is_empty());
    assert!(!NATIONALITIES.is_empty());
    assert!(!EMPLOYERS.is_empty());
    assert!(!NICKNAMES_CURRENT.is_empty());
    assert!(!NICKNAMES_SAVINGS.is_empty());
    assert!(!BILLS.is_empty());
    assert!(!HOUSING.is_empty());
    assert!(!MERCHANTS.is_empty());
    assert!(!P2P_REFERENCES.is_empty());
};
