-- Transactional outbox: events written in the same transaction as the state change that causes
-- them; each service's relay publishes its own rows (column `producer`) and deletes them after
-- the broker confirms.
CREATE TABLE t_outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        UUID        NOT NULL UNIQUE,
    producer        TEXT        NOT NULL,
    routing_key     TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    headers         JSONB       NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX ix_outbox_producer ON t_outbox (producer, id);

-- Processed-message ledger: a consumer records each message id in the transaction that does the
-- work, so a redelivered message changes nothing twice.
CREATE TABLE t_processed_message (
    consumer     TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
