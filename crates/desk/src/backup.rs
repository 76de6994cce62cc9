//! Backups of an SQLite desk, and restoring one.
//!
//! SQLite's online backup API copies a consistent snapshot page by page while the desk goes on
//! taking orders (a writer that commits mid-copy makes it start over, so the copy is always one
//! committed state). A copy counts only once `PRAGMA integrity_check` passes on it and it holds
//! the desk's schema; it is written under a temporary name and renamed, so a crash never leaves
//! a half copy that looks whole. Copies are named `desk-<UTC time>.db` and pruned by that time.
//!
//! A PostgreSQL desk is backed up by its server's own tools (`pg_dump`, `pg_basebackup`, the
//! provider's snapshots); asking for a backup of one says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use crate::store::DeskDb;

/// A backup that could not be made or restored, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{0}: a PostgreSQL desk is backed up by its server's tools (pg_dump, pg_basebackup or \
         the provider's snapshots), not by orderlake"
    )]
    Postgres(String),
    #[error("{}: no desk database here", .0.display())]
    Missing(PathBuf),
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a usable desk copy: {why}", path.display())]
    Damaged { path: PathBuf, why: String },
    #[error(
        "{}: a desk database is already there; pass --force to replace it (the current one \
         is kept beside it first)",
        .0.display()
    )]
    Exists(PathBuf),
}

type Result<T> = std::result::Result<T, BackupError>;

/// A backup made.
#[derive(Debug, Clone, PartialEq)]
pub struct BackedUp {
    pub path: PathBuf,
    pub bytes: u64,
    /// The desk schema version it holds.
    pub schema_version: i64,
    /// Older copies deleted because they were past the keep window.
    pub pruned: Vec<PathBuf>,
}

/// A restore done.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub schema_version: i64,
    /// Where the database that was replaced was kept, if there was one.
    pub kept_previous: Option<PathBuf>,
}

const PREFIX: &str = "desk-";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The file a backup taken at `at` is written to.
pub fn backup_file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}.db", at.format(STAMP))
}

/// When a backup file (by its name) was taken; `None` for files that are not backups.
fn taken_at(path: &Path) -> Option<DateTime<Utc>> {
    let name = path.file_name()?.to_str()?;
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(".db")?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |source| BackupError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the desk `db` into `folder` as of now, checks the copy, and deletes copies in
/// `folder` taken more than `keep` before `now`.
pub fn backup(db: &DeskDb, folder: &Path, keep: Duration, now: DateTime<Utc>) -> Result<BackedUp> {
    let source = match db {
        DeskDb::Sqlite(path) => path,
        DeskDb::Postgres(_) => return Err(BackupError::Postgres(db.to_string())),
    };
    if !source.exists() {
        return Err(BackupError::Missing(source.clone()));
    }
    std::fs::create_dir_all(folder).map_err(io(folder))?;
    let path = folder.join(backup_file_name(now));
    let partial = path.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(source))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(sqlite(source))?;
    conn.backup(rusqlite::MAIN_DB, &partial, None)
        .map_err(sqlite(source))?;
    drop(conn);
    // The copy carries the desk's WAL mode in its header; as a single self-contained file it
    // is better in rollback mode (opening it then leaves no -wal and -shm files beside it).
    Connection::open(&partial)
        .and_then(|copy| copy.pragma_update(None, "journal_mode", "DELETE"))
        .map_err(sqlite(&partial))?;
    let schema_version = check_copy(&partial).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
    let horizon = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    let mut pruned = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(io(folder))? {
        let old = entry.map_err(io(folder))?.path();
        if old != path && taken_at(&old).is_some_and(|t| t < horizon) {
            std::fs::remove_file(&old).map_err(io(&old))?;
            pruned.push(old);
        }
    }
    pruned.sort();
    Ok(BackedUp {
        path,
        bytes,
        schema_version,
        pruned,
    })
}

/// Checks that `path` is a whole desk database; its schema version.
fn check_copy(path: &Path) -> Result<i64> {
    let damaged = |why: String| BackupError::Damaged {
        path: path.to_path_buf(),
        why,
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| damaged(e.to_string()))?;
    let verdict: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .map_err(|e| damaged(e.to_string()))?;
    if verdict != "ok" {
        return Err(damaged(format!("integrity check: {verdict}")));
    }
    conn.query_row(
        "select coalesce(max(version), 0) from schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(|e| damaged(format!("no desk schema ({e})")))
}

/// Puts the backup `from` in place as the desk database `db`. A database already there is
/// replaced only with `force`, and then kept first as `<db>.before-restore-<time>`. The desk's
/// migrations run on the restored copy when it is opened, so an older backup is brought up to
/// date. No desk process may be running on `db` meanwhile.
pub fn restore(from: &Path, db: &DeskDb, force: bool, now: DateTime<Utc>) -> Result<Restored> {
    let target = match db {
        DeskDb::Sqlite(path) => path,
        DeskDb::Postgres(_) => return Err(BackupError::Postgres(db.to_string())),
    };
    if !from.exists() {
        return Err(BackupError::Missing(from.to_path_buf()));
    }
    let schema_version = check_copy(from)?;
    let mut kept_previous = None;
    if target.exists() {
        if !force {
            return Err(BackupError::Exists(target.clone()));
        }
        let mut kept = target.as_os_str().to_owned();
        kept.push(format!(".before-restore-{}", now.format(STAMP)));
        let kept = PathBuf::from(kept);
        let current = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite(target))?;
        current
            .backup(rusqlite::MAIN_DB, &kept, None)
            .map_err(sqlite(target))?;
        kept_previous = Some(kept);
    }
    // Through SQLite rather than a file copy: the target's WAL, if any, is taken care of.
    let mut conn = Connection::open(target).map_err(sqlite(target))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(sqlite(target))?;
    conn.restore(
        rusqlite::MAIN_DB,
        from,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(sqlite(from))?;
    Ok(Restored {
        schema_version,
        kept_previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Desk, NewLine, NewProduct, Role};
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
            .single()
            .expect("valid")
    }

    fn orders(desk: &Desk) -> i64 {
        desk.connection()
            .query_row("select count(*) from orders", &[], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_backup_taken_while_the_desk_is_open_restores_to_exactly_that_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = DeskDb::Sqlite(dir.path().join("desk.db"));
        let mut desk = Desk::open(db.clone()).expect("open");
        let actor = Actor::new("mia", Role::Manager);
        let territory = desk
            .add_territory(&actor, "South", "Tunde", "Adeyemi")
            .expect("territory");
        let location = desk
            .add_location(&actor, "South", territory, "Lagos", "Ikeja")
            .expect("location");
        let retail = desk.add_customer_type(&actor, "Retail").expect("type");
        let customer = desk
            .add_customer(&actor, "Ade Stores", retail, None, location, 100_000)
            .expect("customer");
        let product = desk
            .add_product(
                &actor,
                &NewProduct {
                    description: "Malta 33cl",
                    brand: "Malta",
                    category: "Beverages",
                    price_cents: 1_000,
                    cost_cents: 600,
                    on_hand: 100,
                },
            )
            .expect("product");
        let raise = |desk: &mut Desk| {
            desk.raise_order(
                &actor,
                customer,
                location,
                &[NewLine {
                    product_id: product,
                    quantity: 1,
                }],
            )
            .expect("raise");
        };
        raise(&mut desk);
        raise(&mut desk);
        let folder = dir.path().join("backups");
        let made = backup(&db, &folder, Duration::from_secs(86400), at(30, 3)).expect("backup");
        assert_eq!(made.path, folder.join("desk-20261130T030000Z.db"));
        assert!(made.bytes > 0 && made.schema_version > 0);
        raise(&mut desk);
        assert_eq!(orders(&desk), 3);
        drop(desk);

        let refused = restore(&made.path, &db, false, at(30, 4)).expect_err("exists");
        assert!(matches!(refused, BackupError::Exists(_)), "{refused}");
        let restored = restore(&made.path, &db, true, at(30, 4)).expect("restore");
        let kept = restored.kept_previous.expect("the replaced desk is kept");
        assert_eq!(orders(&Desk::open(db.clone()).expect("reopen")), 2);
        assert_eq!(
            orders(&Desk::open(DeskDb::Sqlite(kept)).expect("the kept one")),
            3,
            "nothing lost: the replaced database is still there"
        );
    }

    #[test]
    fn copies_older_than_the_keep_window_are_pruned_and_others_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = DeskDb::Sqlite(dir.path().join("desk.db"));
        drop(Desk::open(db.clone()).expect("open"));
        let folder = dir.path().join("backups");
        let day = Duration::from_secs(86400);
        for d in [20, 25, 28] {
            backup(&db, &folder, day * 30, at(d, 3)).expect("backup");
        }
        std::fs::write(folder.join("notes.txt"), "mine").expect("write");
        let made = backup(&db, &folder, day * 3, at(30, 3)).expect("backup");
        let names = |paths: &[PathBuf]| -> Vec<String> {
            paths
                .iter()
                .filter_map(|p| p.file_name()?.to_str().map(String::from))
                .collect()
        };
        assert_eq!(
            names(&made.pruned),
            ["desk-20261120T030000Z.db", "desk-20261125T030000Z.db"]
        );
        let mut left: Vec<_> = std::fs::read_dir(&folder)
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "desk-20261128T030000Z.db",
                "desk-20261130T030000Z.db",
                "notes.txt"
            ]
        );
    }

    #[test]
    fn a_file_that_is_not_a_desk_is_refused_and_postgres_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, "not a database at all, just text").expect("write");
        let db = DeskDb::Sqlite(dir.path().join("desk.db"));
        let error = restore(&junk, &db, true, at(30, 3)).expect_err("junk");
        assert!(
            error
                .to_string()
                .contains("junk.db: not a usable desk copy"),
            "{error}"
        );
        assert!(!dir.path().join("desk.db").exists(), "nothing was touched");
        let pg = DeskDb::parse("postgres://u:secret@localhost:5432/desk").expect("url");
        let error = backup(&pg, dir.path(), Duration::from_secs(1), at(30, 3)).expect_err("pg");
        let text = error.to_string();
        assert!(
            text.contains("pg_dump") && !text.contains("secret"),
            "{text}"
        );
    }
}
