//! `materialized='cdc'` against an independent model of its semantics: random change events
//! (upserts and deletes, several per key, with unique sequence numbers) are shuffled and split
//! into random batches; applying the batches one after another must give exactly the table that
//! applying all events at once gives, and what a plain fold over the sorted events computes.
//! Replaying a batch must change nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use orderlake_engine::Warehouse;
use orderlake_engine::cdc;
use orderlake_project::Relation;
use orderlake_project::spec::{CdcSpec, ColumnSelection, ScdType};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
struct Event {
    id: i64,
    seq: i64,
    delete: bool,
    status: String,
    amount: Option<i64>,
}

/// `events` events over `keys` keys; each key's sequence numbers are distinct.
fn random_events(rng: &mut StdRng, keys: i64, events: usize) -> Vec<Event> {
    let statuses = ["raised", "billed", "shipped", "delivered"];
    let mut next_seq: BTreeMap<i64, i64> = BTreeMap::new();
    (0..events)
        .map(|_| {
            let id = rng.random_range(0..keys);
            let seq = next_seq.entry(id).or_insert(0);
            *seq += rng.random_range(1..5);
            Event {
                id,
                seq: *seq,
                delete: rng.random_bool(0.1),
                status: statuses[rng.random_range(0..statuses.len())].to_string(),
                amount: rng.random_bool(0.9).then(|| rng.random_range(0..1000)),
            }
        })
        .collect()
}

fn batch_of(events: &[Event]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("seq", DataType::Int64, false),
        Field::new("op", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("amount", DataType::Int64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.id))),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.seq))),
        Arc::new(StringArray::from_iter_values(
            events
                .iter()
                .map(|e| if e.delete { "DELETE" } else { "UPSERT" }),
        )),
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|e| e.status.as_str()),
        )),
        Arc::new(Int64Array::from(
            events.iter().map(|e| e.amount).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, columns).expect("batch")
}

fn spec(scd_type: ScdType) -> CdcSpec {
    CdcSpec {
        keys: vec!["id".into()],
        sequence_by: vec!["seq".into()],
        apply_as_deletes: Some("op = 'DELETE'".into()),
        apply_as_truncates: None,
        columns: match scd_type {
            ScdType::One => ColumnSelection::Except(vec!["op".into()]),
            ScdType::Two => ColumnSelection::Except(vec!["op".into(), "seq".into()]),
        },
        ignore_null_updates: false,
        scd_type,
        track_history: match scd_type {
            ScdType::One => ColumnSelection::All,
            ScdType::Two => ColumnSelection::Only(vec!["status".into()]),
        },
        tombstone_retention_hours: 168,
    }
}

async fn warehouse(dir: &std::path::Path) -> Warehouse {
    Warehouse::open(dir, "main").await.expect("warehouse")
}

/// Applies one batch of events to `relation`.
async fn apply(warehouse: &Warehouse, spec: &CdcSpec, relation: &Relation, events: &[Event]) {
    let name = format!("events_{}", rand::random::<u32>());
    warehouse
        .context()
        .register_batch(name.as_str(), batch_of(events))
        .expect("register");
    cdc::apply(warehouse, spec, relation, &format!("select * from {name}"))
        .await
        .unwrap_or_else(|e| panic!("{}", orderlake_engine::report(&e)));
    warehouse
        .context()
        .deregister_table(name.as_str())
        .expect("deregister");
}

/// The table's rows as sorted text lines.
async fn table(warehouse: &Warehouse, relation: &Relation) -> Vec<String> {
    let batches = warehouse
        .sql(&format!("select * from {relation}"))
        .await
        .expect("query")
        .collect()
        .await
        .expect("collect");
    let mut rows = Vec::new();
    for batch in &batches {
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for row in 0..batch.num_rows() {
            let mut line = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let column = batch.column(i);
                let text = if column.is_null(row) {
                    "null".to_string()
                } else {
                    datafusion::arrow::util::display::array_value_to_string(column, row)
                        .expect("display")
                };
                line.push(format!("{name}={text}"));
            }
            rows.push(line.join(" "));
        }
    }
    rows.sort();
    rows
}

/// SCD type 1 by hand: each key's newest event, unless it is a delete.
fn expected_scd1(events: &[Event]) -> Vec<String> {
    let mut latest: BTreeMap<i64, &Event> = BTreeMap::new();
    for e in events {
        if latest.get(&e.id).is_none_or(|l| l.seq < e.seq) {
            latest.insert(e.id, e);
        }
    }
    let mut rows: Vec<String> = latest
        .values()
        .filter(|e| !e.delete)
        .map(|e| {
            format!(
                "id={} seq={} status={} amount={}",
                e.id,
                e.seq,
                e.status,
                e.amount.map_or("null".into(), |a| a.to_string())
            )
        })
        .collect();
    rows.sort();
    rows
}

/// SCD type 2 by hand: a new version when `status` changes or after a delete; `amount` is
/// updated in place; a version ends where the next one starts or at the delete.
fn expected_scd2(events: &[Event]) -> Vec<String> {
    let mut by_key: BTreeMap<i64, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_key.entry(e.id).or_default().push(e);
    }
    let mut rows = Vec::new();
    for (id, mut list) in by_key {
        list.sort_by_key(|e| e.seq);
        // (status, amount, start, end)
        let mut versions: Vec<(String, Option<i64>, i64, Option<i64>)> = Vec::new();
        let mut open = false;
        for e in list {
            if e.delete {
                if open && let Some(v) = versions.last_mut() {
                    v.3 = Some(e.seq);
                }
                open = false;
            } else if open && versions.last().is_some_and(|v| v.0 == e.status) {
                if let Some(v) = versions.last_mut() {
                    v.1 = e.amount;
                }
            } else {
                if open && let Some(v) = versions.last_mut() {
                    v.3 = Some(e.seq);
                }
                versions.push((e.status.clone(), e.amount, e.seq, None));
                open = true;
            }
        }
        for (status, amount, start, end) in versions {
            rows.push(format!(
                "id={id} status={status} amount={} __start_at={start} __end_at={}",
                amount.map_or("null".into(), |a| a.to_string()),
                end.map_or("null".into(), |e| e.to_string())
            ));
        }
    }
    rows.sort();
    rows
}

async fn property(scd_type: ScdType, events: usize, keys: i64, splits: usize) {
    let mut rng = StdRng::seed_from_u64(20261123);
    let all = random_events(&mut rng, keys, events);
    let spec = spec(scd_type);
    let relation = Relation::new("silver", "state");
    let expected = match scd_type {
        ScdType::One => expected_scd1(&all),
        ScdType::Two => expected_scd2(&all),
    };

    // All events in one batch, in sequence order.
    let dir = tempfile::tempdir().expect("tempdir");
    let w = warehouse(dir.path()).await;
    let mut sorted = all.clone();
    sorted.sort_by_key(|e| (e.id, e.seq));
    apply(&w, &spec, &relation, &sorted).await;
    let at_once = table(&w, &relation).await;
    assert_eq!(at_once.len(), expected.len());
    assert_eq!(at_once, expected, "one sorted batch vs the hand fold");

    for split in 0..splits {
        // A random permutation, cut into 2–8 batches of random sizes.
        let mut shuffled = all.clone();
        shuffled.shuffle(&mut rng);
        let cuts = rng.random_range(2..=8);
        let mut bounds: Vec<usize> = (0..cuts - 1)
            .map(|_| rng.random_range(0..shuffled.len()))
            .collect();
        bounds.push(0);
        bounds.push(shuffled.len());
        bounds.sort();
        let dir = tempfile::tempdir().expect("tempdir");
        let w = warehouse(dir.path()).await;
        let mut previous = Vec::new();
        for pair in bounds.windows(2) {
            let batch = &shuffled[pair[0]..pair[1]];
            apply(&w, &spec, &relation, batch).await;
            let now = table(&w, &relation).await;
            if !previous.is_empty() || pair[0] > 0 {
                // Replaying the batch just applied changes nothing.
                apply(&w, &spec, &relation, batch).await;
                assert_eq!(
                    table(&w, &relation).await,
                    now,
                    "replay of a batch changed the table"
                );
            }
            previous = now;
        }
        assert_eq!(
            previous, at_once,
            "split #{split} into {cuts} batches differs from one sorted batch"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scd1_out_of_order_batches_equal_one_sorted_batch() {
    property(ScdType::One, 100_000, 1_000, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scd2_out_of_order_batches_equal_one_sorted_batch() {
    property(ScdType::Two, 100_000, 1_000, 3).await;
}

fn event(id: i64, seq: i64, op: &str, status: &str, amount: Option<i64>) -> Event {
    Event {
        id,
        seq,
        delete: op == "DELETE",
        status: if op == "TRUNCATE" {
            "TRUNCATE".into()
        } else {
            status.into()
        },
        amount,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn null_updates_keep_the_current_value_even_when_an_older_event_arrives_late() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = warehouse(dir.path()).await;
    let relation = Relation::new("silver", "state");
    let spec = CdcSpec {
        ignore_null_updates: true,
        ..spec(ScdType::One)
    };
    apply(
        &w,
        &spec,
        &relation,
        &[
            event(1, 1, "UPSERT", "raised", Some(5)),
            event(1, 3, "UPSERT", "billed", None),
        ],
    )
    .await;
    assert_eq!(
        table(&w, &relation).await,
        vec!["id=1 seq=3 status=billed amount=5"]
    );
    // A late event between the two: its amount is now the newest non-null one.
    apply(
        &w,
        &spec,
        &relation,
        &[event(1, 2, "UPSERT", "raised", Some(7))],
    )
    .await;
    assert_eq!(
        table(&w, &relation).await,
        vec!["id=1 seq=3 status=billed amount=7"]
    );
    // After a delete, a null update does not bring back the values from before it.
    apply(
        &w,
        &spec,
        &relation,
        &[
            event(1, 4, "DELETE", "", None),
            event(1, 5, "UPSERT", "raised", None),
        ],
    )
    .await;
    assert_eq!(
        table(&w, &relation).await,
        vec!["id=1 seq=5 status=raised amount=null"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncate_empties_the_table_and_older_events_stay_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = warehouse(dir.path()).await;
    let relation = Relation::new("silver", "state");
    let spec = CdcSpec {
        apply_as_truncates: Some("status = 'TRUNCATE'".into()),
        ..spec(ScdType::One)
    };
    apply(
        &w,
        &spec,
        &relation,
        &[
            event(1, 1, "UPSERT", "raised", Some(1)),
            event(2, 2, "UPSERT", "raised", Some(2)),
        ],
    )
    .await;
    assert_eq!(table(&w, &relation).await.len(), 2);
    apply(
        &w,
        &spec,
        &relation,
        &[
            event(0, 10, "TRUNCATE", "", None),
            event(3, 12, "UPSERT", "billed", Some(3)),
        ],
    )
    .await;
    assert_eq!(
        table(&w, &relation).await,
        vec!["id=3 seq=12 status=billed amount=3"]
    );
    // An event from before the truncate, arriving late, stays out; a newer one lands.
    apply(
        &w,
        &spec,
        &relation,
        &[
            event(1, 5, "UPSERT", "billed", Some(9)),
            event(2, 11, "UPSERT", "shipped", Some(4)),
        ],
    )
    .await;
    assert_eq!(
        table(&w, &relation).await,
        vec![
            "id=2 seq=11 status=shipped amount=4",
            "id=3 seq=12 status=billed amount=3"
        ]
    );
}
