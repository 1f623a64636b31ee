"""On PostgreSQL, audit events and their trail can no longer be opened by a session setting.

Before this, any session could `SET LOCAL audit.pruning = 'on'` and delete events, move the anchor
in audit_audittrail (no trigger at all) and TRUNCATE the events: the chain still verified. Now:

- A role `kilo_maintenance` (NOLOGIN, cluster-wide, shared by every database of the cluster)
  owns `audit_prune()`, a SECURITY DEFINER function that removes a prefix of one organization's
  chain older than its retention and moves the anchor to the last removed event. It works out
  the retention horizon itself (from the organization's plan and the trail's retention) and
  never removes an event inside it, whatever cut-off it is given, so whoever may call it can only
  do what the retention task does.
- The events' trigger lets a DELETE through only when current_user is that role, i.e. inside the
  function; the trail's trigger lets the anchor move only then, lets the head only advance, and
  refuses DELETE. Both tables refuse TRUNCATE. The one exception for TRUNCATE is a superuser
  session (the test suite's flush between tests runs as one): a superuser can drop these
  triggers anyway, so refusing them would protect nothing. Row changes are refused even to a
  superuser unless it takes the maintenance role (`SET ROLE kilo_maintenance`), so a mistake
  made by hand is still stopped.
- The application's role (see `manage.py db_app_role`) gets no DELETE or TRUNCATE on these
  tables and EXECUTE on the function.

The migration runs as the tables' owner. A non-superuser owner needs CREATEROLE, or a deployer
creates `kilo_maintenance` first and grants it to the owner (README "Deploy"); the owner joins
the role because only a member may hand it a function. Nothing of this exists on SQLite (the
demo): there the retention task deletes in Python as before.
"""

from django.db import migrations

ROLE = "kilo_maintenance"

CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kilo_maintenance') THEN
        BEGIN
            CREATE ROLE kilo_maintenance NOLOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of this cluster created it meanwhile
        END;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'kilo_maintenance', 'MEMBER') THEN
        EXECUTE format('GRANT kilo_maintenance TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO kilo_maintenance', current_schema());
END $$;
GRANT SELECT, DELETE ON audit_auditevent TO kilo_maintenance;
GRANT SELECT, UPDATE ON audit_audittrail TO kilo_maintenance;
GRANT SELECT ON organizations_organization TO kilo_maintenance;
"""

# Statement-level (TRUNCATE) triggers see no NEW/OLD: TG_OP is tested first everywhere.
EVENT_GUARD = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- A superuser could drop this trigger; the test suite's flush truncates as one.
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'DELETE' AND current_user = 'kilo_maintenance' THEN
        RETURN OLD;  -- inside audit_prune()
    ELSIF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
          AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;  -- the acting user was deleted (actor_id is outside the chain)
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""

TRAIL_GUARD = """
CREATE OR REPLACE FUNCTION audit_trail_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- A superuser could drop this trigger; the test suite's flush truncates as one.
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.organization_id = OLD.organization_id
          AND NEW.last_sequence = OLD.last_sequence AND NEW.last_hash = OLD.last_hash
          AND current_user = 'kilo_maintenance'
          AND NEW.anchor_sequence >= OLD.anchor_sequence THEN
        RETURN NEW;  -- audit_prune() moves the anchor forward
    ELSIF TG_OP = 'UPDATE' AND NEW.organization_id = OLD.organization_id
          AND NEW.anchor_sequence = OLD.anchor_sequence AND NEW.anchor_hash = OLD.anchor_hash
          AND (NEW.last_sequence > OLD.last_sequence
               OR (NEW.last_sequence = OLD.last_sequence AND NEW.last_hash = OLD.last_hash)) THEN
        RETURN NEW;  -- a writer advances the head, or retention/count settings change
    END IF;
    RAISE EXCEPTION 'audit_audittrail: the anchor moves only in audit_prune() (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_trail_guard
    BEFORE UPDATE OR DELETE ON audit_audittrail
    FOR EACH ROW EXECUTE FUNCTION audit_trail_guard();
CREATE TRIGGER audit_trail_no_truncate
    BEFORE TRUNCATE ON audit_audittrail
    FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_guard();
"""

# Removes at most p_batch events, from the anchor on, all created before p_before and before the
# organization's retention horizon; returns how many. The horizon mirrors audit.maintenance (Teams keeps 1 year, Enterprise its choice of 1-7)
# and audit.services.retention_cutoff (on 29 February a non-leap target year ends on 1 March).
# Time order and chain order agree (writers read the clock under the chain lock); should they
# not, the function refuses rather than remove a recent event.
PRUNE = """
CREATE OR REPLACE FUNCTION audit_prune(
    p_organization_id bigint, p_before timestamptz, p_batch integer
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = {schema}, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    v_trail audit_audittrail%ROWTYPE;
    v_years integer;
    v_horizon timestamptz;
    v_before timestamptz;
    v_through bigint;
    v_end bigint;
    v_hash varchar;
    v_deleted integer;
BEGIN
    SELECT * INTO v_trail FROM audit_audittrail
     WHERE organization_id = p_organization_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT CASE WHEN o.plan = 'enterprise' THEN greatest(v_trail.retention_years, 1) ELSE 1 END
      INTO v_years FROM organizations_organization o WHERE o.id = p_organization_id;
    v_horizon := clock_timestamp() - make_interval(years => coalesce(v_years, 1));
    IF to_char(clock_timestamp(), 'MM-DD') = '02-29' AND to_char(v_horizon, 'MM-DD') = '02-28' THEN
        v_horizon := v_horizon + interval '1 day';
    END IF;
    -- Whatever the caller asks, nothing inside the retention goes (and a caller whose clock is
    -- a little ahead of the database's still prunes, a few seconds less).
    v_before := least(p_before, v_horizon);
    SELECT sequence INTO v_through FROM audit_auditevent
     WHERE organization_id = p_organization_id AND created_at < v_before
       AND sequence IS NOT NULL
     ORDER BY created_at DESC, id DESC LIMIT 1;
    v_end := least(v_trail.anchor_sequence + greatest(p_batch, 1), v_through,
                   v_trail.last_sequence);
    IF v_through IS NULL OR v_end <= v_trail.anchor_sequence THEN
        RETURN 0;
    END IF;
    IF EXISTS (SELECT 1 FROM audit_auditevent
                WHERE organization_id = p_organization_id
                  AND sequence > v_trail.anchor_sequence AND sequence <= v_end
                  AND created_at >= v_before) THEN
        RAISE EXCEPTION 'audit_prune: events #% to #% of organization % are not all older than %',
            v_trail.anchor_sequence + 1, v_end, p_organization_id, v_before;
    END IF;
    SELECT hash INTO v_hash FROM audit_auditevent
     WHERE organization_id = p_organization_id AND sequence = v_end;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_prune: event #% of organization % is missing (broken chain)',
            v_end, p_organization_id;
    END IF;
    DELETE FROM audit_auditevent
     WHERE organization_id = p_organization_id
       AND sequence > v_trail.anchor_sequence AND sequence <= v_end;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    UPDATE audit_audittrail SET anchor_sequence = v_end, anchor_hash = v_hash
     WHERE organization_id = p_organization_id;
    RETURN v_deleted;
END;
$$;
REVOKE ALL ON FUNCTION audit_prune(bigint, timestamptz, integer) FROM PUBLIC;
ALTER FUNCTION audit_prune(bigint, timestamptz, integer) OWNER TO kilo_maintenance;
"""

# What 0004 left (the pruning switch), for going backwards.
OLD_EVENT_GUARD = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.pruning', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
DROP = """
DROP FUNCTION IF EXISTS audit_prune(bigint, timestamptz, integer);
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_trail_guard ON audit_audittrail;
DROP TRIGGER IF EXISTS audit_trail_no_truncate ON audit_audittrail;
DROP FUNCTION IF EXISTS audit_trail_guard();
REVOKE ALL ON audit_auditevent, audit_audittrail, organizations_organization
    FROM kilo_maintenance;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
    for sql in (CREATE_ROLE, EVENT_GUARD, TRAIL_GUARD, PRUNE.format(schema=schema)):
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # The role stays: other databases of the cluster may use it.
        schema_editor.execute(DROP, params=None)
        schema_editor.execute(OLD_EVENT_GUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_member_counts"),
        ("organizations", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
