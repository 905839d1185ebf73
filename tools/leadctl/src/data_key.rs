//! `leadctl data-key status|reseal`: retiring a data key. Every sealed value says which key sealed
//! it (`v1.<key id>.…`, `leadgen_crypto`); the services seal new values with the current key and
//! open old ones with any key in `[crypto] previous_keys`. `status` counts the values of every
//! sealed column per key id; `reseal` opens each value not under the current key and seals it
//! again under it, in batches, so that once `status` shows nothing under the old id, the old key
//! can leave `previous_keys`.
//!
//! A value is rewritten only if it is still what was read (a service may have written it
//! meanwhile, under the current key already), bound to the same context as before.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use leadgen_crypto::Sealer;
use leadgen_db::sealed;
use leadgen_domain::{LeadId, PlatformId};

/// One sealed column: where it lives and the context its values are bound to.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The column name its values' context names: the column itself, except for a value kept
    /// beside its row, sealed as the column it came from (`unreadable_raw_data` as `raw_data`).
    sealed_as: &'static str,
    /// The columns besides `id` its context needs, as `platform_id, order_id` (or NULLs).
    keys: &'static str,
}

const NO_KEYS: &str = "NULL::int8 AS platform_id, NULL::text AS order_id";
const ORDER_KEYS: &str = "platform_id, order_id";

/// Every sealed column of the database.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "t_ecom_platform_auth",
        column: "auth_info",
        sealed_as: "auth_info",
        keys: NO_KEYS,
    },
    SealedColumn {
        table: "t_ecom_platform_auth",
        column: "access_token",
        sealed_as: "access_token",
        keys: NO_KEYS,
    },
    SealedColumn {
        table: "t_ecom_platform_auth",
        column: "refresh_token",
        sealed_as: "refresh_token",
        keys: NO_KEYS,
    },
    SealedColumn {
        table: "t_ecom_order_raw",
        column: "raw_data",
        sealed_as: "raw_data",
        keys: ORDER_KEYS,
    },
    SealedColumn {
        table: "t_ecom_order_raw",
        column: "normalized",
        sealed_as: "normalized",
        keys: ORDER_KEYS,
    },
    SealedColumn {
        table: "t_ecom_order_raw",
        column: "unreadable_raw_data",
        sealed_as: "raw_data",
        keys: ORDER_KEYS,
    },
    SealedColumn {
        table: "t_ecom_order_processed",
        column: "contact_info",
        sealed_as: "contact_info",
        keys: ORDER_KEYS,
    },
    SealedColumn {
        table: "t_order_lead",
        column: "contact_info",
        sealed_as: "contact_info",
        keys: NO_KEYS,
    },
];

#[derive(diesel::QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    platform_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    order_id: Option<String>,
}

impl SealedColumn {
    /// The context a value of this column in `row` is bound to (`leadgen_db::sealed`).
    fn context(&self, row: &SealedRow) -> String {
        let shop = PlatformId::new(row.platform_id.unwrap_or_default());
        let order = row.order_id.as_deref().unwrap_or_default();
        match self.table {
            "t_ecom_platform_auth" => {
                sealed::platform_auth(self.sealed_as, PlatformId::new(row.id))
            }
            "t_ecom_order_raw" => sealed::raw_order(self.sealed_as, shop, order),
            "t_order_lead" => sealed::lead_contact(LeadId::new(row.id)),
            table => sealed::contact(table, shop, order),
        }
    }

    fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// How many values of one column a key id sealed (`key_id` as written; `?` where the value is
/// not a sealed value at all).
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct KeyCount {
    #[diesel(sql_type = Text)]
    pub key_id: String,
    #[diesel(sql_type = BigInt)]
    pub values: i64,
}

/// The values of every sealed column per key id, as (`table.column`, counts).
pub async fn status(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<(String, Vec<KeyCount>)>> {
    let mut all = Vec::new();
    for c in SEALED_COLUMNS {
        let counts: Vec<KeyCount> = diesel::sql_query(format!(
            "SELECT CASE WHEN {col} LIKE 'v1.%' THEN split_part({col}, '.', 2) ELSE '?' END \
               AS key_id, count(*) AS values \
             FROM {table} WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 1",
            col = c.column,
            table = c.table
        ))
        .load(conn)
        .await?;
        all.push((c.name(), counts));
    }
    Ok(all)
}

/// What `reseal` did to one column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Sealed again under the current key.
    pub resealed: usize,
    /// Rewritten meanwhile by a service (left as it now is).
    pub changed: usize,
    /// Do not open with any configured key (an unknown key id, damage): left, and counted.
    pub unreadable: usize,
}

/// Seals every value of every column that is not under `current` again under it, `batch` rows
/// per transaction; answers per column (`table.column`).
pub async fn reseal(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
    current: u8,
    batch: i64,
) -> anyhow::Result<Vec<(String, Resealed)>> {
    let mut report = Vec::new();
    for column in SEALED_COLUMNS {
        report.push((
            column.name(),
            reseal_column(conn, sealer, current, batch, column).await?,
        ));
    }
    Ok(report)
}

async fn reseal_column(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
    current: u8,
    batch: i64,
    column: &SealedColumn,
) -> anyhow::Result<Resealed> {
    let mut done = Resealed::default();
    let mut after = 0_i64;
    loop {
        let rows: Vec<SealedRow> = diesel::sql_query(format!(
            "SELECT id, {col} AS value, {keys} FROM {table} \
             WHERE id > $1 AND {col} IS NOT NULL AND {col} NOT LIKE $2 ORDER BY id LIMIT $3",
            col = column.column,
            keys = column.keys,
            table = column.table
        ))
        .bind::<BigInt, _>(after)
        .bind::<Text, _>(format!("v1.{current}.%"))
        .bind::<BigInt, _>(batch)
        .load(conn)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = last.id;
        let update = format!(
            "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
            col = column.column,
            table = column.table
        );
        let counted = conn
            .transaction::<Resealed, anyhow::Error, _>(|conn| {
                Box::pin(async move {
                    let mut counted = Resealed::default();
                    for row in &rows {
                        let context = column.context(row);
                        let Ok(plain) = sealer.open(&context, &row.value) else {
                            counted.unreadable += 1;
                            continue;
                        };
                        let again = sealer.seal(&context, &plain)?;
                        let written = diesel::sql_query(&update)
                            .bind::<Text, _>(again)
                            .bind::<BigInt, _>(row.id)
                            .bind::<Text, _>(&row.value)
                            .execute(conn)
                            .await?;
                        if written == 1 {
                            counted.resealed += 1;
                        } else {
                            counted.changed += 1;
                        }
                    }
                    Ok(counted)
                })
            })
            .await?;
        done.resealed += counted.resealed;
        done.changed += counted.changed;
        done.unreadable += counted.unreadable;
    }
}
