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
        // `DROP INDEX ix_…` names no table: any index but one this migration built is dropped
        // as one of a large table's would be.
        let drops_an_older_index = index_drop && !builds_the_index_it_drops(&statements, s);
        if (index_build && on_existing_large(s)) || drops_an_older_index {
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
            if adds_column && on_existing_large(s) && rewrites_on_add(s) {
                say(
                    "a large table's new column has no volatile default or serial type (each rewrites the table)",
                    s,
                );
            }
            if s.contains(" ADD CONSTRAINT ")
                && (s.contains(" UNIQUE") || s.contains(" PRIMARY KEY"))
                && !s.contains(" USING INDEX ")
                && on_existing_large(s)
            {
                say(
                    "a large table's unique or primary key constraint is added USING INDEX, built CONCURRENTLY first",
                    s,
                );
            }
            if s.contains(" SET NOT NULL") && on_existing_large(s) {
                say(
                    "NOT NULL on a large table's column comes from a validated CHECK, not SET NOT NULL",
                    s,
                );
            }
            if alters_a_column_type(s) && on_existing_large(s) {
                say("a large table's column type is never changed in place", s);
            }
            if adds_column && s.contains(" REFERENCES ") && on_existing_large(s) {
                say(
                    "a large table's new column gets its foreign key by a separate ADD CONSTRAINT … NOT VALID (an inline REFERENCES is validated under the lock, and takes no NOT VALID)",
                    s,
                );
            }
            if (s.contains(" FOREIGN KEY") || s.contains(" CHECK ") || s.contains(" CHECK("))
                && on_existing_large(s)
                && !s.contains(" NOT VALID")
            {
                say("a constraint on a large table is added NOT VALID", s);
            }
        }
        let fills = s.starts_with("UPDATE ")
            || s.starts_with("DELETE ")
            || (s.starts_with("INSERT INTO ") && s.contains(" SELECT "));
        if fills && on_existing_large(s) {
            say(
                "a large table is backfilled in batches outside migrations (leadctl)",
                s,
            );
        }
        let rebuilds = s.starts_with("VACUUM FULL")
            || s.starts_with("CLUSTER")
            || (s.starts_with("REINDEX") && !s.contains(" CONCURRENTLY "));
        if rebuilds && on_existing_large(s) {
            say(
                "a large table is never rewritten under its exclusive lock (VACUUM FULL, CLUSTER, REINDEX)",
                s,
            );
        }
        if s.starts_with("ANALYZE")
            && migration.in_transaction
            && statements.len() > 1
            && on_existing_large(s)
        {
            say(
                "a large table is analyzed alone, not in a transaction that holds its locks",
                s,
            );
        }
    }
    broken
}

/// Whether `drop` (a `DROP INDEX`) drops an index one of `statements` builds.
fn builds_the_index_it_drops(statements: &[String], drop: &str) -> bool {
    let name = drop
        .trim_start_matches("DROP INDEX ")
        .trim_start_matches("CONCURRENTLY ")
        .trim_start_matches("IF EXISTS ")
        .split([' ', ','])
        .next()
        .unwrap_or("");
    statements.iter().any(|s| {
        (s.starts_with("CREATE INDEX") || s.starts_with("CREATE UNIQUE INDEX"))
            && s.split(' ').any(|word| word == name)
    })
}

/// Whether an `ALTER TABLE` that adds a column rewrites the table: a volatile default (each row
/// its own value) or a serial type.
fn rewrites_on_add(s: &str) -> bool {
    const REWRITING: [&str; 8] = [
        " SERIAL",
        " BIGSERIAL",
        " SMALLSERIAL",
        "CLOCK_TIMESTAMP(",
        "GEN_RANDOM_UUID(",
        "UUID_GENERATE_",
        "RANDOM(",
        "NEXTVAL(",
    ];
    REWRITING.iter().any(|w| s.contains(w))
}

/// Whether an `ALTER TABLE` changes a column's type (`ALTER [COLUMN] c [SET DATA] TYPE t`).
fn alters_a_column_type(s: &str) -> bool {
    let words: Vec<&str> = s.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    (2..words.len()).any(|i| {
        words[i] == "TYPE"
            && (words[i - 2] == "ALTER"
                || (i >= 3 && words[i - 3] == "ALTER" && words[i - 2] == "COLUMN")
                || (words[i - 2] == "SET" && words[i - 1] == "DATA"))
    })
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
        "DROP INDEX ix_lead_list_time;",
        "DROP INDEX IF EXISTS ix_lead_list_time;",
        "ALTER TABLE t_order_lead ADD CONSTRAINT uq UNIQUE (tenant_id, id);",
        "ALTER TABLE t_order_lead ADD CONSTRAINT pk PRIMARY KEY (id);",
        "ALTER TABLE t_order_lead ADD COLUMN shop BIGINT REFERENCES t_ecom_platform_auth (id);",
        "ALTER TABLE t_order_lead ADD COLUMN seen_at TIMESTAMPTZ DEFAULT clock_timestamp();",
        "ALTER TABLE t_order_lead ADD COLUMN token UUID DEFAULT gen_random_uuid();",
        "ALTER TABLE t_order_lead ADD COLUMN n BIGSERIAL;",
        "ALTER TABLE t_outbox ALTER payload TYPE TEXT;",
        "ALTER TABLE t_outbox ALTER COLUMN payload SET DATA TYPE TEXT;",
        "INSERT INTO t_lead_identity (lead_id) SELECT id FROM t_order_lead;",
        "VACUUM FULL t_order_lead;",
        "CLUSTER t_order_lead USING ix_lead;",
        "REINDEX TABLE t_order_lead;",
        "ALTER TABLE t_order_lead ADD COLUMN note TEXT;\nANALYZE t_order_lead;",
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
        "ALTER TABLE t_order_lead ADD COLUMN seen_at TIMESTAMPTZ DEFAULT now();",
        "ALTER TABLE t_order_lead ADD COLUMN type TEXT;",
        "ALTER TABLE t_ecom_order_raw ADD COLUMN task BIGINT;\nALTER TABLE t_ecom_order_raw ADD CONSTRAINT fk FOREIGN KEY (task) REFERENCES t_ecom_sync_task (id) NOT VALID;",
        "ALTER TABLE t_order_lead ADD CONSTRAINT uq UNIQUE USING INDEX uq_lead;",
        "INSERT INTO t_order_lead (id) VALUES (1);",
        "CREATE TABLE t_new (id BIGINT);\nCREATE INDEX ix_new ON t_new (id);\nDROP INDEX ix_new;",
    ] {
        assert_eq!(check(good, true), Vec::<String>::new(), "{good}");
    }
    for alone in [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON t_order_lead (a);",
        "DROP INDEX CONCURRENTLY IF EXISTS ix_lead_list_time;",
    ] {
        assert_eq!(check(alone, false), Vec::<String>::new(), "{alone}");
    }
    assert_eq!(
        check("ANALYZE t_order_lead;", true),
        Vec::<String>::new(),
        "an ANALYZE alone"
    );
}
