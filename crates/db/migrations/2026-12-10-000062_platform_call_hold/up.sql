-- A platform's ban of an app key's calls (Taobao's code 7 "This ban will last for N more
-- seconds", a throttle held for a time that grows while it keeps coming), learnt by one replica
-- and kept here for every replica's next call, which the shared rate gate refuses without
-- sending while a hold lasts (leadgen_runtime::PgRateGate). One row per `<PLATFORM>:<app key>`
-- and API (`*`: every API of the key), overwritten by the next ban; not tenant data. `said` is
-- the platform's error as it stated it (phones masked, at most 300 characters).
CREATE TABLE IF NOT EXISTS t_platform_call_hold (
    rate_key  TEXT             NOT NULL,
    api       TEXT             NOT NULL,
    until     TIMESTAMPTZ      NOT NULL,
    -- How long the hold was when learnt: a throttle that follows it is held twice as long on
    -- every replica.
    hold_secs DOUBLE PRECISION NOT NULL,
    said      TEXT             NOT NULL,
    PRIMARY KEY (rate_key, api)
);
