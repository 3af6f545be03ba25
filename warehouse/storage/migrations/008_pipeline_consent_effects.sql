-- Consent's effects run in the daily sync's prepare step, connected as the loader
-- (warehouse.consent.effects.apply_before_sync). Exactly what they write in consent:
--   hospitals joining  INSERT consent.event (event_id_seq), consent.notification
--                      (notification_id_seq); consent.hospital is granted in 004;
--   per-visit expiry   UPDATE status/decided_at of consent.per_visit_request, INSERT event;
--   purge              INSERT consent.purge_log (purge_id_seq); its deletes in marts are
--                      granted per table by dbt (macros/security.sql, secure_internal).
-- The consent service creates these tables on first use, so each grant waits for its table:
-- a later `healthlink migrate` grants what was missing.
GRANT USAGE ON SCHEMA marts TO healthlink_loader;
DO $$
BEGIN
    IF to_regclass('consent.event') IS NOT NULL THEN
        GRANT INSERT ON consent.event TO healthlink_loader;
    END IF;
    IF to_regclass('consent.notification') IS NOT NULL THEN
        GRANT INSERT ON consent.notification TO healthlink_loader;
    END IF;
    IF to_regclass('consent.purge_log') IS NOT NULL THEN
        GRANT INSERT ON consent.purge_log TO healthlink_loader;
    END IF;
    IF to_regclass('consent.per_visit_request') IS NOT NULL THEN
        GRANT UPDATE (status, decided_at) ON consent.per_visit_request TO healthlink_loader;
    END IF;
    IF to_regclass('consent.event_id_seq') IS NOT NULL THEN
        GRANT USAGE ON SEQUENCE consent.event_id_seq TO healthlink_loader;
    END IF;
    IF to_regclass('consent.notification_id_seq') IS NOT NULL THEN
        GRANT USAGE ON SEQUENCE consent.notification_id_seq TO healthlink_loader;
    END IF;
    IF to_regclass('consent.purge_id_seq') IS NOT NULL THEN
        GRANT USAGE ON SEQUENCE consent.purge_id_seq TO healthlink_loader;
    END IF;
END
$$;
