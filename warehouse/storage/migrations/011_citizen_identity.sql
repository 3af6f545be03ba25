-- Issue 9 findings 1 and 5: the citizen app acts for one patient (an identity-provider token
-- checked by the API, no table needed), and every patient notification lives in ONE place,
-- consent.notification, which the citizen app's notification list reads.

-- The consent service's role (healthlink_citizen_app, used by the API for the citizen app,
-- per-visit requests and break-glass notifications) writes notifications; 004 granted the
-- consent tables, this says it for the notification home explicitly.
DO $$
BEGIN
    IF to_regclass('consent.notification') IS NOT NULL THEN
        GRANT SELECT, INSERT ON consent.notification TO healthlink_citizen_app;
    END IF;
    IF to_regclass('consent.notification_id_seq') IS NOT NULL THEN
        GRANT USAGE, SELECT ON SEQUENCE consent.notification_id_seq TO healthlink_citizen_app;
    END IF;
END
$$;

-- api.patient_notification held break-glass notifications nobody read: move them into the
-- patient's list (kind break_glass, same payload fields) and drop it.
DO $$
BEGIN
    IF to_regclass('api.patient_notification') IS NOT NULL
       AND to_regclass('consent.notification') IS NOT NULL THEN
        INSERT INTO consent.notification (
            notification_id, patient_key, kind, payload, event_id, created_at, read_at
        )
        SELECT nextval('consent.notification_id_seq'), n.patient_key, n.kind,
               json_build_object(
                   'physician_licence', n.physician_licence,
                   'physician_hospital_code', n.physician_hospital_code,
                   'reason', n.reason,
                   'source_hospitals', to_json(
                       array_remove(string_to_array(coalesce(n.source_hospitals, ''), ','), '')
                   )
               )::text,
               NULL, n.created_at, NULL
        FROM api.patient_notification AS n
        ORDER BY n.created_at;
        DROP TABLE api.patient_notification;
    END IF;
END
$$;
