//! Rules every new migration follows so that an upgrade of a large database does not stop the
//! services (docs/upgrades.md, "Writing a migration"). Migrations up to
//! [`LAST_GRANDFATHERED`] were written before the rules; the upgrade guide says which of them
//! are heavy and how to run them on a large database.

use std::path::{Path, PathBuf};

/// The last migration written before these rules.
const LAST_GRANDFATHERED: u32 = 55;

/// Tables that grow with orders and buyers: no migration rewrites, backfills or builds an index
/// on them inside a transaction.
const LARGE_TABLES: &[&str] = &[
    "t_ecom_order_raw",
    "t_ecom_order_processed",
    "t_order_lead",
    "t_lead_identity",
    "t_order_revealed_identity",
    "t_ecom_sync_task",
    "t_operation_log",
    "t_processed_message",
    "t_outbox",
    "t_contact_reveal",
];

/// One migration's files.
struct Migration {
    name: String,
    up: String,
    in_transaction: bool,
}

/// The SQL without comments, as one upper-case line per statement (split at `;`: a function body
/// between `$$` is split too, which only ever adds statements to check).
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    without_comments
        .split(';')
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// What `migration` breaks of the rules; empty when it keeps them.
fn broken_rules(migration: &Migration) -> Vec<String> {
    let statements = statements(&migration.up);
    let created: Vec<String> = statements
        .iter()
        .filter_map(|s| s.strip_prefix("CREATE TABLE "))
        .map(|rest| {
            rest.trim_start_matches("IF NOT EXISTS ")
                .split([' ', '('])
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let on_existing_large = |s: &str| {
        LARGE_TABLES.iter().any(|t| {
            let t = t.to_uppercase();
            s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == t)
                && !created.contains(&t)
        })
    };
    let mut broken = Vec::new();
    let mut say = |what: &str, statement: &str| {
        broken.push(format!("{}: {what}: {statement}", migration.name));
    };
    for s in &statements {
        let index_build = s.starts_with("CREATE INDEX") || s.starts_with("CREATE UNIQUE INDEX");
        let index_drop = s.starts_with("DROP INDEX");
        if (index_build || index_drop) && on_existing_large(s) {
            if !s.contains(" CONCURRENTLY ") {
                say(
                    "an index of a large table is built or dropped CONCURRENTLY",
                    s,
                );
            } else if migration.in_transaction || statements.len() != 1 {
                say(
                    "CONCURRENTLY runs alone, in a migration with run_in_transaction = false",
                    s,
                );
            }
            if index_build && !s.contains(" IF NOT EXISTS ") {
                say(
                    "an index build is CREATE INDEX CONCURRENTLY IF NOT EXISTS",
                    s,
                );
            }
        }
        if s.starts_with("ALTER TABLE") {
            let adds_column = s.contains(" ADD COLUMN ")
                || (s.contains(" ADD ") && !s.contains(" ADD CONSTRAINT "));
            if adds_column && s.contains(" NOT NULL") && !s.contains(" DEFAULT ") {
                say("a NOT NULL column is added with a constant DEFAULT", s);
            }
            if s.contains(" SET NOT NULL") && on_existing_large(s) {
                say(
                    "NOT NULL on a large table's column comes from a validated CHECK, not SET NOT NULL",
                    s,
                );
            }
            if s.contains(" TYPE ") && s.contains(" ALTER COLUMN ") && on_existing_large(s) {
                say("a large table's column type is never changed in place", s);
            }
            if (s.contains(" FOREIGN KEY") || s.contains(" CHECK ") || s.contains(" CHECK("))
                && on_existing_large(s)
                && !s.contains(" NOT VALID")
            {
                say("a constraint on a large table is added NOT VALID", s);
            }
        }
        if (s.starts_with("UPDATE ") || s.starts_with("DELETE ")) && on_existing_large(s) {
            say(
                "a large table is backfilled in batches outside migrations (leadctl)",
                s,
            );
        }
    }
    broken
}

fn migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

fn number(name: &str) -> Option<u32> {
    name.rsplit_once('-')?.1.split('_').next()?.parse().ok()
}

fn read(dir: &Path) -> Migration {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let up = std::fs::read_to_string(dir.join("up.sql")).unwrap_or_default();
    let in_transaction = std::fs::read_to_string(dir.join("metadata.toml"))
        .map(|toml| {
            !toml
                .lines()
                .any(|l| l.split_whitespace().collect::<String>() == "run_in_transaction=false")
        })
        .unwrap_or(true);
    Migration {
        name,
        up,
        in_transaction,
    }
}

#[test]
fn every_migration_after_the_rules_keeps_them() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(migrations_dir())
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    assert!(dirs.len() >= 55, "migrations found: {}", dirs.len());
    let mut broken = Vec::new();
    for dir in &dirs {
        let migration = read(dir);
        assert!(
            dir.join("down.sql").exists(),
            "{}: no down.sql",
            migration.name
        );
        if number(&migration.name).is_some_and(|n| n > LAST_GRANDFATHERED) {
            broken.extend(broken_rules(&migration));
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// The rules catch what they are for, and let the safe forms through.
#[test]
fn the_rules_refuse_what_would_stop_the_services() {
    let check = |up: &str, in_transaction: bool| {
        broken_rules(&Migration {
            name: "m".into(),
            up: up.into(),
            in_transaction,
        })
    };
    for bad in [
        "CREATE INDEX ix ON t_order_lead (tenant_id, score);",
        "create index concurrently ix on t_order_lead (score);",
        "DROP INDEX ix_lead_list_time;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON t_order_lead (a);",
        "ALTER TABLE t_ecom_sync_task ADD COLUMN listing TEXT NOT NULL;",
        "ALTER TABLE t_ecom_sync_task ADD listing TEXT NOT NULL;",
        "ALTER TABLE t_order_lead ALTER COLUMN note SET NOT NULL;",
        "ALTER TABLE t_outbox ALTER COLUMN payload TYPE TEXT;",
        "ALTER TABLE t_ecom_order_raw ADD CONSTRAINT c CHECK (status <> '');",
        "UPDATE t_ecom_order_processed SET region = '';",
        "-- comment\nDELETE FROM t_operation_log WHERE occurred_at < now();",
    ] {
        assert!(!check(bad, true).is_empty(), "passed: {bad}");
    }
    assert!(
        !check("CREATE INDEX CONCURRENTLY ix ON t_order_lead (a);", false).is_empty(),
        "without IF NOT EXISTS"
    );
    for good in [
        "ALTER TABLE t_order_lead ADD COLUMN note TEXT;",
        "ALTER TABLE t_order_lead ADD COLUMN seen BOOLEAN NOT NULL DEFAULT false;",
        "ALTER TABLE t_ecom_order_raw ADD CONSTRAINT c CHECK (status <> '') NOT VALID;",
        "CREATE TABLE t_new (id BIGINT PRIMARY KEY);\nCREATE INDEX ix ON t_new (id);",
        "CREATE INDEX ix ON t_ecom_platform_auth (tenant_id);",
    ] {
        assert_eq!(check(good, true), Vec::<String>::new(), "{good}");
    }
    assert_eq!(
        check(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON t_order_lead (a);",
            false
        ),
        Vec::<String>::new()
    );
}
