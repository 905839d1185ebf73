-- How many times the shop's status changed: `platform.changed.v1` carries it as
-- `statusVersion`, so a subscriber can drop an announcement older than one it has seen (three
-- services announce status changes, each through its own outbox relay, so their events can
-- arrive out of order). Raised by the database on every status change, whoever makes it.
ALTER TABLE t_ecom_platform_auth ADD COLUMN status_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION leadgen_platform_status_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.status_version := OLD.status_version + 1;
    RETURN NEW;
END;
$$;

CREATE TRIGGER t_ecom_platform_auth_status_version
    BEFORE UPDATE OF status ON t_ecom_platform_auth
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION leadgen_platform_status_version();
