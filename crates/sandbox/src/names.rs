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
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Hughes", "Edwards", "Murphy", "Kowalski", "Okafor",
    "MacLeod", "Fraser", "Pritchard", "Chen", "Nowak",
];

pub(crate) const STREETS: &[&str] = &[
    "Acacia Avenue", "Juniper Close", "Mill Lane", "Station Road", "Kestrel Way",
    "Orchard Grove", "Foundry Street", "Larkspur Drive", "Canal Walk", "Beacon Hill Road",
    "Willowbank Crescent", "Quarry Terrace", "Harebell Gardens", "Tannery Row",
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
pub(crate) const NICKNAMES_SAVINGS: &[&str] = &["Rainy day", "Holiday pot", "House deposit", "Savings"];

/// A fixed monthly outgoing: payee, MCC-free direct debit or standing order.
pub(crate) struct Bill {
    pub(crate) payee: &'static str,
    /// Amount range in pence.
    pub(crate) min_pence: i64,
    pub(crate) max_pence: i64,
    /// Day of the month it is collected.
    pub(crate) day: u8,
}

pub(crate) const BILLS: &[Bill] = &[
    Bill { payee: "BRACKENFIELD BC CTAX", min_pence: 11_000, max_pence: 22_000, day: 1 },
    Bill { payee: "BRIGHTWATER ENERGY", min_pence: 6_000, max_pence: 18_000, day: 5 },
    Bill { payee: "VALLEYSTREAM WATER", min_pence: 2_500, max_pence: 5_000, day: 9 },
    Bill { payee: "FLICKBOX STREAMING", min_pence: 799, max_pence: 1_799, day: 12 },
    Bill { payee: "SKYLARK BROADBAND", min_pence: 2_500, max_pence: 4_500, day: 15 },
    Bill { payee: "CHATTERBOX MOBILE", min_pence: 1_000, max_pence: 4_000, day: 18 },
    Bill { payee: "IRONWORKS GYM", min_pence: 2_000, max_pence: 5_000, day: 3 },
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

pub(crate) const MERCHANTS: &[Merchant] = &[
    Merchant { name: "Greenleaf Grocers", mcc: "5411", min_pence: 800, max_pence: 9_500, weight: 10 },
    Merchant { name: "Corner Basket Market", mcc: "5411", min_pence: 250, max_pence: 2_500, weight: 8 },
    Merchant { name: "Hillside Fresh Foods", mcc: "5411", min_pence: 1_500, max_pence: 11_000, weight: 5 },
    Merchant { name: "Bean & Bramble", mcc: "5814", min_pence: 250, max_pence: 650, weight: 9 },
    Merchant { name: "Steamline Coffee", mcc: "5814", min_pence: 280, max_pence: 900, weight: 6 },
    Merchant { name: "The Copper Kettle", mcc: "5812", min_pence: 1_500, max_pence: 6_500, weight: 3 },
    Merchant { name: "Saffron Lane Kitchen", mcc: "5812", min_pence: 1_800, max_pence: 8_500, weight: 3 },
    Merchant { name: "Little Napoli Pizzeria", mcc: "5812", min_pence: 1_200, max_pence: 4_500, weight: 3 },
    Merchant { name: "The Wandering Heron", mcc: "5813", min_pence: 450, max_pence: 4_800, weight: 4 },
    Merchant { name: "Metroline Travel", mcc: "4111", min_pence: 175, max_pence: 950, weight: 8 },
    Merchant { name: "Northline Rail", mcc: "4112", min_pence: 1_200, max_pence: 9_800, weight: 2 },
    Merchant { name: "Swift Cabs", mcc: "4121", min_pence: 850, max_pence: 3_200, weight: 3 },
    Merchant { name: "Roadstar Fuel", mcc: "5541", min_pence: 3_500, max_pence: 8_500, weight: 3 },
    Merchant { name: "Parcelbox Online", mcc: "5999", min_pence: 600, max_pence: 12_000, weight: 5 },
    Merchant { name: "Pageturner Books", mcc: "5942", min_pence: 500, max_pence: 4_000, weight: 2 },
    Merchant { name: "Wellspring Pharmacy", mcc: "5912", min_pence: 300, max_pence: 2_500, weight: 3 },
    Merchant { name: "Starlight Cinema", mcc: "7832", min_pence: 800, max_pence: 3_000, weight: 2 },
    Merchant { name: "Threadwell Clothing", mcc: "5651", min_pence: 1_500, max_pence: 9_000, weight: 2 },
    Merchant { name: "Fixit Hardware", mcc: "5251", min_pence: 400, max_pence: 6_000, weight: 2 },
];

/// References on person-to-person transfers.
pub(crate) const P2P_REFERENCES: &[&str] = &[
    "DINNER", "TICKETS", "BIRTHDAY", "THANKS", "HOLIDAY SHARE", "TAXI", "GIFT", "LOAN REPAY",
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
