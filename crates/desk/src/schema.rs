//! Versioned schema migrations. Each migration runs once, in order, in its own transaction; the
//! applied versions are recorded in `schema_migrations`.

use crate::params;
use crate::store::Db;

use crate::error::Result;

/// Every migration, in order. Append new ones; never edit an applied one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
create table territories (
    territory_id integer primary key,
    name text not null unique,
    manager_first_name text not null,
    manager_last_name text not null
);
create table locations (
    location_id integer primary key,
    region text not null,
    territory_id integer not null references territories(territory_id),
    state text not null,
    city text not null,
    unique (region, territory_id, state, city)
);
create table customer_types (
    customer_type_id integer primary key,
    name text not null unique
);
create table customers (
    customer_id integer primary key,
    name text not null,
    customer_type_id integer not null references customer_types(customer_type_id),
    email text,
    location_id integer not null references locations(location_id),
    registered_at text not null,
    credit_limit_cents integer not null check (credit_limit_cents >= 0),
    balance_cents integer not null default 0,
    active integer not null default 1,
    unique (name, location_id, customer_type_id)
);
create table carriers (
    carrier_id integer primary key,
    name text not null,
    location_id integer references locations(location_id)
);
create table products (
    product_id integer primary key,
    description text not null,
    brand text not null,
    category text not null,
    price_cents integer not null check (price_cents >= 0),
    cost_cents integer not null check (cost_cents >= 0),
    on_hand integer not null check (on_hand >= 0)
);
-- Every version of a product's price, cost and quantity with its validity period.
create table product_history (
    product_id integer not null references products(product_id),
    price_cents integer not null,
    cost_cents integer not null,
    on_hand integer not null,
    valid_from text not null,
    valid_to text
);
create index product_history_at on product_history(product_id, valid_from);
create table orders (
    order_id integer primary key,
    customer_id integer not null references customers(customer_id),
    location_id integer not null references locations(location_id),
    status text not null check (status in ('raised', 'on_hold', 'billed', 'shipped', 'delivered', 'cancelled')),
    hold_reason text,
    raised_at text not null,
    billed_at text,
    updated_at text not null
);
create table order_lines (
    order_id integer not null references orders(order_id),
    line_no integer not null,
    product_id integer not null references products(product_id),
    quantity integer not null check (quantity > 0),
    primary key (order_id, line_no),
    unique (order_id, product_id)
);
-- Billed lines: price, VAT, cost and margin fixed at billing; returns reduce the net quantity.
create table sales_lines (
    order_id integer not null,
    line_no integer not null,
    product_id integer not null,
    quantity integer not null,
    returned integer not null default 0 check (returned >= 0 and returned <= quantity),
    unit_price_cents integer not null,
    unit_cost_cents integer not null,
    primary key (order_id, line_no)
);
create table shipments (
    order_id integer primary key references orders(order_id),
    carrier_id integer not null references carriers(carrier_id),
    warehouse text not null,
    promised_at text not null,
    shipped_at text not null,
    delivered_at text
);
create table reversals (
    reversal_id integer primary key,
    order_id integer not null,
    line_no integer not null,
    quantity integer not null check (quantity > 0),
    refund_cents integer not null,
    reason text not null,
    actor text not null,
    at text not null
);
-- Append-only: every entry carries the customer's balance after it.
create table ledger (
    entry_id integer primary key,
    customer_id integer not null references customers(customer_id),
    entry_type text not null check (entry_type in ('invoice', 'payment', 'refund', 'rebate', 'write_off')),
    amount_cents integer not null,
    balance_after_cents integer not null,
    value_date text not null,
    order_id integer,
    reference text,
    actor text not null,
    created_at text not null
);
create trigger ledger_no_update before update on ledger begin select raise(abort, 'the ledger is append-only'); end;
create trigger ledger_no_delete before delete on ledger begin select raise(abort, 'the ledger is append-only'); end;
create table rebate_runs (
    month text primary key,
    actor text not null,
    at text not null
);
create table audit (
    audit_id integer primary key,
    entity text not null,
    entity_id text not null,
    action text not null,
    actor text not null,
    at text not null,
    payload text not null
);
-- Change events, written in the operation's own transaction; published exactly once.
create table outbox (
    event_id integer primary key,
    event_type text not null,
    entity text not null,
    payload text not null,
    created_at text not null,
    published_file text
);
"#,
    ),
    (
        2,
        r#"
create table warehouses (
    warehouse_id integer primary key,
    name text not null unique,
    location_id integer references locations(location_id)
);
alter table shipments add column warehouse_id integer references warehouses(warehouse_id);
-- API tokens: only a SHA-256 digest is kept; the token itself is shown once, when issued.
create table api_tokens (
    token_sha256 text primary key,
    name text not null,
    role text not null check (role in ('clerk', 'manager', 'analyst')),
    created_at text not null,
    revoked_at text
);
-- Every stock movement: receipts (+), sales (−), returns (+).
create table stock_movements (
    movement_id integer primary key,
    product_id integer not null references products(product_id),
    movement_type text not null check (movement_type in ('receipt', 'sale', 'return', 'adjustment')),
    quantity integer not null,
    moved_at text not null,
    order_id integer
);
create index stock_movements_at on stock_movements(moved_at);
create index ledger_by_customer on ledger(customer_id, entry_id);
create index orders_by_status on orders(status);
create index reversals_by_time on reversals(at);
"#,
    ),
    (
        3,
        r#"
-- What billing decided, kept with each sales line: its share of the invoice's VAT (allocated by
-- largest remainder, so the lines sum to the invoice). Reports read it; they never recompute
-- history with today's rate. Lines billed before this migration have none (null).
alter table sales_lines add column vat_cents integer;
"#,
    ),
    (
        4,
        r#"
-- Publishing reads only what is not yet published.
create index outbox_unpublished on outbox(event_id) where published_file is null;
-- Idempotency keys: a retried request (same caller, same key) answers the first result
-- instead of acting twice. Stored in the transaction of the operation it guards.
create table idempotency_keys (
    actor text not null,
    idempotency_key text not null,
    operation text not null,
    request_sha256 text not null,
    result text not null,
    created_at text not null,
    primary key (actor, idempotency_key)
);
"#,
    ),
    (
        5,
        r#"
-- CHECK (x IN ('a', 'b', 'c')) makes SQLite build a temporary index of the list on every
-- insert or update that checks it (several per bill: most of a bill's memory traffic). The same
-- rule spelled with OR is checked by comparisons. Rewritten in place, as SQLite documents for
-- changing CHECK constraints: every existing row satisfies the equivalent rule.
pragma writable_schema = on;
update sqlite_master set sql = replace(sql, 'check (status in (''raised'', ''on_hold'', ''billed'', ''shipped'', ''delivered'', ''cancelled''))', 'check (status = ''raised'' or status = ''on_hold'' or status = ''billed'' or status = ''shipped'' or status = ''delivered'' or status = ''cancelled'')') where type = 'table' and name = 'orders';
update sqlite_master set sql = replace(sql, 'check (entry_type in (''invoice'', ''payment'', ''refund'', ''rebate'', ''write_off''))', 'check (entry_type = ''invoice'' or entry_type = ''payment'' or entry_type = ''refund'' or entry_type = ''rebate'' or entry_type = ''write_off'')') where type = 'table' and name = 'ledger';
update sqlite_master set sql = replace(sql, 'check (role in (''clerk'', ''manager'', ''analyst''))', 'check (role = ''clerk'' or role = ''manager'' or role = ''analyst'')') where type = 'table' and name = 'api_tokens';
update sqlite_master set sql = replace(sql, 'check (movement_type in (''receipt'', ''sale'', ''return'', ''adjustment''))', 'check (movement_type = ''receipt'' or movement_type = ''sale'' or movement_type = ''return'' or movement_type = ''adjustment'')') where type = 'table' and name = 'stock_movements';
pragma writable_schema = off;
"#,
    ),
    (
        6,
        r#"
-- Stock history is the movements: stock at a moment is today's less what moved since, read per
-- product and time (product versions now change with price and cost only, not with every sale).
drop index stock_movements_at;
create index stock_movements_by_product on stock_movements(product_id, moved_at);
"#,
    ),
];

/// The same schema on PostgreSQL, as the SQLite migrations leave it: integers are `bigint` (the
/// rules read every integer as `i64`), ids the desk does not choose are identities, and the
/// ledger refuses updates and deletes through a trigger. Its version is the last SQLite
/// migration's: a later change is appended to both lists under one number.
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[(
    6,
    r#"
create table territories (
    territory_id bigint primary key,
    name text not null unique,
    manager_first_name text not null,
    manager_last_name text not null
);
create table locations (
    location_id bigint primary key,
    region text not null,
    territory_id bigint not null references territories(territory_id),
    state text not null,
    city text not null,
    unique (region, territory_id, state, city)
);
create table customer_types (
    customer_type_id bigint primary key,
    name text not null unique
);
create table customers (
    customer_id bigint primary key,
    name text not null,
    customer_type_id bigint not null references customer_types(customer_type_id),
    email text,
    location_id bigint not null references locations(location_id),
    registered_at text not null,
    credit_limit_cents bigint not null check (credit_limit_cents >= 0),
    balance_cents bigint not null default 0,
    active bigint not null default 1,
    unique (name, location_id, customer_type_id)
);
create table carriers (
    carrier_id bigint primary key,
    name text not null,
    location_id bigint references locations(location_id)
);
create table products (
    product_id bigint primary key,
    description text not null,
    brand text not null,
    category text not null,
    price_cents bigint not null check (price_cents >= 0),
    cost_cents bigint not null check (cost_cents >= 0),
    on_hand bigint not null check (on_hand >= 0)
);
create table product_history (
    product_id bigint not null references products(product_id),
    price_cents bigint not null,
    cost_cents bigint not null,
    on_hand bigint not null,
    valid_from text not null,
    valid_to text
);
create index product_history_at on product_history(product_id, valid_from);
create table orders (
    order_id bigint primary key,
    customer_id bigint not null references customers(customer_id),
    location_id bigint not null references locations(location_id),
    status text not null check (status in ('raised', 'on_hold', 'billed', 'shipped', 'delivered', 'cancelled')),
    hold_reason text,
    raised_at text not null,
    billed_at text,
    updated_at text not null
);
create index orders_by_status on orders(status);
create table order_lines (
    order_id bigint not null references orders(order_id),
    line_no bigint not null,
    product_id bigint not null references products(product_id),
    quantity bigint not null check (quantity > 0),
    primary key (order_id, line_no),
    unique (order_id, product_id)
);
create table sales_lines (
    order_id bigint not null,
    line_no bigint not null,
    product_id bigint not null,
    quantity bigint not null,
    returned bigint not null default 0 check (returned >= 0 and returned <= quantity),
    unit_price_cents bigint not null,
    unit_cost_cents bigint not null,
    vat_cents bigint,
    primary key (order_id, line_no)
);
create table warehouses (
    warehouse_id bigint primary key,
    name text not null unique,
    location_id bigint references locations(location_id)
);
create table shipments (
    order_id bigint primary key references orders(order_id),
    carrier_id bigint not null references carriers(carrier_id),
    warehouse text not null,
    promised_at text not null,
    shipped_at text not null,
    delivered_at text,
    warehouse_id bigint references warehouses(warehouse_id)
);
create table reversals (
    reversal_id bigint primary key,
    order_id bigint not null,
    line_no bigint not null,
    quantity bigint not null check (quantity > 0),
    refund_cents bigint not null,
    reason text not null,
    actor text not null,
    at text not null
);
create index reversals_by_time on reversals(at);
create table ledger (
    entry_id bigint primary key,
    customer_id bigint not null references customers(customer_id),
    entry_type text not null check (entry_type in ('invoice', 'payment', 'refund', 'rebate', 'write_off')),
    amount_cents bigint not null,
    balance_after_cents bigint not null,
    value_date text not null,
    order_id bigint,
    reference text,
    actor text not null,
    created_at text not null
);
create index ledger_by_customer on ledger(customer_id, entry_id);
create function ledger_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the ledger is append-only';
end $$;
create trigger ledger_no_update before update or delete on ledger
    for each row execute function ledger_append_only();
create table rebate_runs (
    month text primary key,
    actor text not null,
    at text not null
);
create table audit (
    audit_id bigint generated by default as identity primary key,
    entity text not null,
    entity_id text not null,
    action text not null,
    actor text not null,
    at text not null,
    payload text not null
);
create table outbox (
    event_id bigint generated by default as identity primary key,
    event_type text not null,
    entity text not null,
    payload text not null,
    created_at text not null,
    published_file text
);
create index outbox_unpublished on outbox(event_id) where published_file is null;
create table api_tokens (
    token_sha256 text primary key,
    name text not null,
    role text not null check (role in ('clerk', 'manager', 'analyst')),
    created_at text not null,
    revoked_at text
);
create table stock_movements (
    movement_id bigint primary key,
    product_id bigint not null references products(product_id),
    movement_type text not null check (movement_type in ('receipt', 'sale', 'return', 'adjustment')),
    quantity bigint not null,
    moved_at text not null,
    order_id bigint
);
create index stock_movements_by_product on stock_movements(product_id, moved_at);
create table idempotency_keys (
    actor text not null,
    idempotency_key text not null,
    operation text not null,
    request_sha256 text not null,
    result text not null,
    created_at text not null,
    primary key (actor, idempotency_key)
);
"#,
)];

/// Applies every migration not yet applied, each in its own transaction. Returns the schema's
/// version. On PostgreSQL, two desks opening a new database at once take turns (an advisory
/// lock held by the migrating transaction), so each migration runs once.
pub fn migrate(conn: &Db) -> Result<i64> {
    let migrations = if conn.is_postgres() {
        POSTGRES_MIGRATIONS
    } else {
        MIGRATIONS
    };
    let lock = if conn.is_postgres() {
        "select pg_advisory_xact_lock(7031)"
    } else {
        ""
    };
    conn.execute_batch(&format!(
        "begin; {lock}; create table if not exists schema_migrations (version bigint primary key, applied_at text not null); commit"
    ))?;
    for (version, sql) in migrations {
        conn.execute_batch(&format!("begin; {lock};"))?;
        let current: i64 = conn.query_row(
            "select coalesce(max(version), 0) from schema_migrations",
            params![],
            |r| r.get(0),
        )?;
        if *version <= current {
            conn.execute_batch("commit")?;
            continue;
        }
        let applied = conn.execute_batch(sql).and_then(|()| {
            conn.execute(
                "insert into schema_migrations (version, applied_at) values (?1, ?2)",
                params![*version, crate::now()],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("commit")?,
            Err(e) => {
                let _ = conn.execute_batch("rollback");
                return Err(e.into());
            }
        }
    }
    Ok(migrations.last().map(|m| m.0).unwrap_or(0))
}
