-- The platforms' quotas are per app key, whatever the number of our replicas calling with it.
-- Every process that calls a platform (sync-worker, lead-api, auth-api) reserves its next call
-- here: one row per `<PLATFORM>:<app key>`, the earliest time the next call may start. A call
-- moves it one interval (1 / qps) past max(it, now) in one statement and waits until its slot
-- (leadgen_runtime::PgRateGate). Not tenant data: an app key is the ISV's, shared by tenants.
CREATE TABLE t_platform_call_slot (
    rate_key TEXT        PRIMARY KEY,
    next_at  TIMESTAMPTZ NOT NULL
);
