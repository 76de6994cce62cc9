//! The names the generated business uses: regions and cities, managers, product categories and
//! brands, channels, carriers, and the reasons people give for returns and cancellations.

/// A state and its cities.
pub(crate) type State = (&'static str, &'static [&'static str]);
/// Region, country and its states.
pub(crate) const REGIONS: &[(&str, &str, &[State])] = &[
    (
        "North",
        "Nigeria",
        &[
            ("Kano", &["Kano", "Wudil"]),
            ("Kaduna", &["Kaduna", "Zaria"]),
        ],
    ),
    (
        "South",
        "Nigeria",
        &[
            ("Rivers", &["Port Harcourt", "Bonny"]),
            ("Lagos", &["Ikeja", "Lekki", "Epe"]),
        ],
    ),
    (
        "West",
        "Ghana",
        &[
            ("Greater Accra", &["Accra", "Tema"]),
            ("Ashanti", &["Kumasi"]),
        ],
    ),
    (
        "East",
        "Kenya",
        &[
            ("Nairobi", &["Nairobi", "Karen"]),
            ("Mombasa", &["Mombasa"]),
        ],
    ),
];
pub(crate) const MANAGERS: &[(&str, &str)] = &[
    ("Amina", "Bello"),
    ("Chidi", "Okafor"),
    ("Kofi", "Mensah"),
    ("Wanjiru", "Kamau"),
    ("Tunde", "Adeyemi"),
    ("Esi", "Owusu"),
    ("Otieno", "Odhiambo"),
    ("Ngozi", "Eze"),
];
pub(crate) const CATEGORIES: &[(&str, &[&str])] = &[
    ("Beverages", &["Malta", "Chapman", "Zobo Fresh"]),
    ("Snacks", &["Crunchy", "Plantain Co"]),
    ("Household", &["Brightly", "Klean"]),
    ("Personal Care", &["Glow", "Shea Pure"]),
    ("Staples", &["Golden Grain", "Mama's"]),
];
pub(crate) const CHANNELS: &[&str] = &["store", "web", "phone", "marketplace"];
pub(crate) const CARRIERS: &[&str] = &[
    "SwiftHaul",
    "RoadRunner Logistics",
    "CityDash",
    "Continental Freight",
];
pub(crate) const RETURN_REASONS: &[&str] = &[
    "damaged",
    "wrong item",
    "not as described",
    "late delivery",
    "changed mind",
];
pub(crate) const CANCEL_REASONS: &[&str] = &[
    "customer request",
    "duplicate order",
    "payment failed",
    "out of stock",
];
