//! The record generator's vocabulary: the words, categories, names, email domains, cities,
//! countries, currencies, non-ASCII samples and file extensions that generated text is made of.
//! Changing any list changes every generated workspace.

pub(super) const WORDS: [&str; 64] = [
    "account", "action", "amber", "anchor", "apple", "atlas", "autumn", "balance", "basket",
    "beacon", "bridge", "bright", "budget", "canvas", "cedar", "center", "channel", "circle",
    "client", "cloud", "coral", "crystal", "delta", "design", "digital", "east", "echo", "engine",
    "field", "forest", "garden", "glass", "golden", "harbor", "horizon", "island", "journey",
    "lagoon", "launch", "maple", "market", "meadow", "metric", "north", "ocean", "orbit", "order",
    "pilot", "planet", "prairie", "quartz", "rapid", "river", "signal", "silver", "spring",
    "summit", "sunset", "timber", "urban", "valley", "vector", "willow", "winter",
];

#[rustfmt::skip]
pub(super) const CATEGORIES: [&str; 16] = [
    "active", "pending", "general", "standard", "premium", "basic", "internal", "external",
    "primary", "secondary", "weekly", "monthly", "draft", "final", "open", "other",
];

/// (display, ASCII for emails)
#[rustfmt::skip]
pub(super) const FIRST_NAMES: [(&str, &str); 24] = [
    ("Ada", "ada"), ("Alan", "alan"), ("Amara", "amara"), ("Ben", "ben"), ("Chloé", "chloe"),
    ("David", "david"), ("Elena", "elena"), ("Farid", "farid"), ("Grace", "grace"),
    ("Hiro", "hiro"), ("Ines", "ines"), ("José", "jose"), ("Kwame", "kwame"), ("Lena", "lena"),
    ("Maya", "maya"), ("Noah", "noah"), ("Olga", "olga"), ("Priya", "priya"),
    ("Rafael", "rafael"), ("Sofia", "sofia"), ("Søren", "soren"), ("Tariq", "tariq"),
    ("Yuki", "yuki"), ("Zoë", "zoe"),
];

#[rustfmt::skip]
pub(super) const LAST_NAMES: [(&str, &str); 20] = [
    ("Adams", "adams"), ("Bauer", "bauer"), ("Cohen", "cohen"), ("Díaz", "diaz"),
    ("Evans", "evans"), ("Fischer", "fischer"), ("García", "garcia"), ("Haddad", "haddad"),
    ("Ito", "ito"), ("Johnson", "johnson"), ("Kowalski", "kowalski"), ("Lopez", "lopez"),
    ("Müller", "muller"), ("Nguyen", "nguyen"), ("Okafor", "okafor"), ("Patel", "patel"),
    ("Rossi", "rossi"), ("Silva", "silva"), ("Tanaka", "tanaka"), ("Wright", "wright"),
];

#[rustfmt::skip]
pub(super) const DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "mail.example.com"];

#[rustfmt::skip]
pub(super) const CITIES: [&str; 12] = [
    "Lisbon", "Austin", "Nairobi", "Osaka", "Montréal", "Berlin", "Lima", "Tel Aviv", "Pune",
    "Kraków", "Melbourne", "São Paulo",
];

#[rustfmt::skip]
pub(super) const COUNTRIES: [&str; 10] = [
    "Portugal", "United States", "Kenya", "Japan", "Canada", "Germany", "Peru", "Israel",
    "India", "Brazil",
];

pub(super) const CURRENCIES: [&str; 6] = ["USD", "EUR", "GBP", "JPY", "BRL", "ILS"];

/// Text a migration must carry unchanged: accents, right-to-left scripts, CJK, and characters
/// outside the Basic Multilingual Plane (which take 4 bytes in UTF-8 and 2 UTF-16 units).
#[rustfmt::skip]
pub(super) const NON_ASCII: [&str; 12] = [
    "café crème", "naïve façade", "Łódź", "Ñandú", "שלום עולם", "مرحبا بالعالم", "東京タワー",
    "Привет", "🚀 launch", "done ✅", "𝄞 music", "😀",
];

pub(super) const FILE_EXTENSIONS: [&str; 5] = ["png", "jpg", "pdf", "webp", "csv"];
