//! PostgreSQL's types for Arrow's: OIDs, names, type modifiers, and the rows of `pg_type`.

use super::*;

/// PostgreSQL's type for an Arrow type, as result columns and `pg_attribute` report it.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::UInt32 => Type::OID,
        DataType::Int64 | DataType::UInt64 => Type::INT8,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            match pg_type(f.data_type()) {
                Type::BOOL => Type::BOOL_ARRAY,
                Type::INT2 => Type::INT2_ARRAY,
                Type::INT4 => Type::INT4_ARRAY,
                Type::INT8 => Type::INT8_ARRAY,
                Type::OID => Type::OID_ARRAY,
                Type::FLOAT4 => Type::FLOAT4_ARRAY,
                Type::FLOAT8 => Type::FLOAT8_ARRAY,
                _ => Type::TEXT_ARRAY,
            }
        }
        _ => Type::TEXT,
    }
}

/// `format_type(oid, typmod)` for the types we report.
pub fn format_type(oid: u32, typmod: i32) -> Option<String> {
    let name = match oid {
        1700 if typmod > 4 => {
            let m = typmod - 4;
            return Some(format!("numeric({},{})", m >> 16, m & 0xffff));
        }
        1043 if typmod > 4 => return Some(format!("character varying({})", typmod - 4)),
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        700 => "real",
        701 => "double precision",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1700 => "numeric",
        other => return Type::from_oid(other).map(|t| t.name().to_string()),
    };
    Some(name.to_string())
}

/// `atttypmod` of a column: numeric precision and scale packed as PostgreSQL does.
pub fn type_modifier(data_type: &DataType) -> i32 {
    match data_type {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            ((i32::from(*p) << 16) | (i32::from(*s) & 0xffff)) + 4
        }
        _ => -1,
    }
}

/// (oid, name, length, category, element oid, array oid)
pub(super) const TYPES: &[(u32, &str, i16, &str, u32, u32)] = &[
    (16, "bool", 1, "B", 0, 1000),
    (17, "bytea", -1, "U", 0, 1001),
    (18, "char", 1, "Z", 0, 1002),
    (19, "name", 64, "S", 0, 1003),
    (20, "int8", 8, "N", 0, 1016),
    (21, "int2", 2, "N", 0, 1005),
    (22, "int2vector", -1, "A", 21, 1006),
    (23, "int4", 4, "N", 0, 1007),
    (24, "regproc", 4, "N", 0, 1008),
    (25, "text", -1, "S", 0, 1009),
    (26, "oid", 4, "N", 0, 1028),
    (30, "oidvector", -1, "A", 26, 1013),
    (114, "json", -1, "U", 0, 199),
    (700, "float4", 4, "N", 0, 1021),
    (701, "float8", 8, "N", 0, 1022),
    (705, "unknown", -2, "X", 0, 0),
    (1042, "bpchar", -1, "S", 0, 1014),
    (1043, "varchar", -1, "S", 0, 1015),
    (1082, "date", 4, "D", 0, 1182),
    (1083, "time", 8, "D", 0, 1183),
    (1114, "timestamp", 8, "D", 0, 1115),
    (1184, "timestamptz", 8, "D", 0, 1185),
    (1186, "interval", 16, "T", 0, 1187),
    (1700, "numeric", -1, "N", 0, 1231),
    (2205, "regclass", 4, "N", 0, 2210),
    (2206, "regtype", 4, "N", 0, 2211),
    (2249, "record", -1, "P", 0, 2287),
    (2278, "void", 4, "P", 0, 0),
    (2950, "uuid", 16, "U", 0, 2951),
    (3802, "jsonb", -1, "U", 0, 3807),
];

/// The I/O function of a type, as its `regproc` column in `pg_type` shows it (`int8recv`,
/// `numeric_recv`, `array_in`): drivers such as ADBC pick their decoder by these names.
/// `role` is `in`, `out`, `recv` or `send`.
pub(super) fn io_function(type_name: &str, is_array: bool, role: &str) -> String {
    const UNDERSCORED: &[&str] = &[
        "json",
        "jsonb",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "numeric",
        "record",
        "void",
        "uuid",
    ];
    if is_array {
        format!("array_{role}")
    } else if UNDERSCORED.contains(&type_name) {
        format!("{type_name}_{role}")
    } else {
        format!("{type_name}{role}")
    }
}

/// `pg_type`'s columns of type `regproc`: shown as function names, `-` for none.
pub const REGPROC_COLUMNS: &[&str] = &[
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
];

/// The OID of `array_recv`, which drivers use to tell arrays from other types.
pub(super) const ARRAY_RECV_OID: u32 = 2400;

pub(crate) fn type_rows() -> Vec<(u32, String, i16, String, u32, u32, &'static str)> {
    let mut rows = Vec::new();
    for &(oid, name, len, category, elem, array) in TYPES {
        let kind = if category == "P" { "p" } else { "b" };
        rows.push((
            oid,
            name.to_string(),
            len,
            category.to_string(),
            elem,
            array,
            kind,
        ));
        if array != 0 {
            rows.push((array, format!("_{name}"), -1, "A".into(), oid, 0, "b"));
        }
    }
    rows
}
