-- A project's events whose tags contain every pair of p_tags, received at
-- or after p_since, newest first, at most p_page_size of them
-- (queries/events.sql, filter_events_by_tags). It picks the pair it walks
-- itself: of the pairs asked for, the one the tag store counts fewest
-- events of.
--
-- event_tags holds one row per write-path batch, tag pair and UTC day, the
-- row listing that batch's events of the pair, newest first. The walk reads
-- a pair's rows newest first until it has found as many events as asked
-- for; the oldest of them bounds the answer from below, and a second
-- statement reads the rows whose newest event is at least that new (those
-- walked, and any that overlap them, since batches written at the same time
-- overlap in time) and sorts their events from the bound on. Both
-- statements read a number of rows that follows the page asked for, not
-- the number of matches. A walk that finds fewer has found every match, and
-- returns them.
--
-- A function, so that its statements run on generic plans, made once per
-- session, whatever the values: the statements join two partitioned
-- tables, and a custom plan (planned for the call's values) costs
-- milliseconds of planning on every call where the walk itself takes a few
-- tenths of one; the generic plan prunes the partitions older than p_since
-- when it starts (runtime pruning). The SET clauses hold for the function's
-- statements only; the caller's settings are untouched. On Citus,
-- after_migrate.sql resets plan_cache_mode: Citus plans a query with
-- parameters per call, by the values (that is how it finds the shard), and
-- refuses a generic plan.
--
-- It returns rows of the events table (SETOF events: a row type, not a
-- built-in type to capitalise).
CREATE OR REPLACE FUNCTION filter_events_by_tags(
    p_project_id UUID,
    p_tags JSONB,
    p_since TIMESTAMPTZ,
    p_page_size INTEGER
) RETURNS SETOF events  -- noqa: CP05
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET plan_cache_mode TO force_generic_plan
AS $$
DECLARE
    -- The pair walked, from p_tags.
    v_tag_key TEXT;
    v_tag_value TEXT;
    -- Whether that pair has no row in project_tag_values.
    v_untracked BOOLEAN;
    -- The events the walk found (at most p_page_size), and the oldest one's
    -- time.
    v_found INTEGER;
    v_bound TIMESTAMPTZ;
    v_found_at TIMESTAMPTZ[];
    v_found_ids UUID[];
BEGIN
    -- A deleted project's events are gone from the reads at once (its rows
    -- go later, by maintenance).
    IF EXISTS (SELECT FROM projects WHERE id = p_project_id AND deleted_at IS NOT NULL) THEN
        RETURN;
    END IF;

    -- Of the pairs asked for, the one on the fewest of the project's events
    -- by the tag store's counts (project_tag_values: times_seen, one probe
    -- of its primary key per pair); a pair it does not know counts as none.
    -- Ties go to the first key in jsonb order (shorter keys first). No pairs
    -- (an empty p_tags): no row, and no events below.
    SELECT
        t.key,
        t.value,
        v.times_seen IS NULL
    INTO v_tag_key, v_tag_value, v_untracked
    FROM jsonb_each_text(p_tags) AS t
    LEFT JOIN project_tag_values AS v
        ON
            v.project_id = p_project_id
            AND t.key = v.tag_key
            AND t.value = v.tag_value
    ORDER BY coalesce(v.times_seen, 0), t.key
    LIMIT 1;

    -- A pair without a row: a value its key had no room for (past the key's
    -- value_bound, migration 0028), or one never seen. Such a value has no
    -- rows in event_tags either: its events come from the events' GIN
    -- index (idx_events_tags, each partition from p_since on), all of them,
    -- sorted. The sort key is an expression, so that the plan cannot walk a
    -- time index instead and test every event of the window: the cost
    -- follows the value's events, which a value without a row has few of,
    -- unless it became frequent after its key was full.
    -- Planned for the call's values (EXECUTE): a generic plan cannot tell
    -- that p_since keeps the whole window, and ANDed the GIN index with a
    -- scan of every event's time (milliseconds per 100,000 events).
    IF v_untracked THEN
        RETURN QUERY EXECUTE
            'SELECT e.* FROM events AS e'
            ' WHERE e.project_id = $1 AND e.tags @> $2 AND e.received_at >= $3'
            ' ORDER BY e.received_at + INTERVAL ''0 s'' DESC, e.id DESC LIMIT $4'
        USING p_project_id, p_tags, p_since, p_page_size;
        RETURN;
    END IF;

    -- 1. The walk: the pair's rows of event_tags newest first (the
    -- partitions' primary keys merged; p_since prunes the older partitions),
    -- each row's events in its order, each event by its primary key, those
    -- whose tags contain every pair, until p_page_size are found. They are
    -- not necessarily the newest (rows overlap), but the newest p_page_size
    -- are at least as new as the oldest of them: v_bound. Found fewer: they
    -- are every match, returned at once. The event is fetched in a LATERAL
    -- subquery with LIMIT 1: the planner cannot estimate the join on the
    -- event's id and time, and would otherwise join every event of the pair
    -- to events before the LIMIT.
    SELECT
        count(*),
        min(w.received_at),
        array_agg(w.received_at),
        array_agg(w.event_id)
    INTO v_found, v_bound, v_found_at, v_found_ids
    FROM (
        SELECT
            u.received_at,
            u.event_id
        FROM event_tags AS t
        CROSS JOIN
            LATERAL unnest(t.received_ats, t.event_ids) AS u (received_at, event_id)
        CROSS JOIN
            LATERAL (
                SELECT 1 AS found
                FROM events AS e
                WHERE
                    e.project_id = p_project_id
                    AND e.id = u.event_id
                    AND e.received_at = u.received_at
                    AND e.received_at >= p_since
                    AND e.tags @> p_tags
                LIMIT 1
            ) AS e
        WHERE
            t.project_id = p_project_id
            AND t.tag_key = v_tag_key
            AND t.tag_value = v_tag_value
            AND t.received_at >= p_since
            AND u.received_at >= p_since
        ORDER BY t.received_at DESC, t.event_id DESC
        LIMIT p_page_size
    ) AS w;
    IF v_found < p_page_size THEN
        RETURN QUERY
        SELECT e.*
        FROM unnest(v_found_at, v_found_ids) AS w (received_at, event_id)
        CROSS JOIN
            LATERAL (
                SELECT e.*
                FROM events AS e
                WHERE
                    e.project_id = p_project_id
                    AND e.id = w.event_id
                    AND e.received_at = w.received_at
                LIMIT 1
            ) AS e
        ORDER BY w.received_at DESC, w.event_id DESC;
        RETURN;
    END IF;

    -- 2. The page: the pair's rows whose newest event is at least v_bound
    -- (those walked, and any whose times overlap theirs: a range of the same
    -- primary keys), their events from v_bound on sorted newest first, each
    -- fetched as in 1, those whose tags contain every pair, until
    -- p_page_size are found.
    RETURN QUERY
    SELECT e.*
    FROM (
        SELECT
            u.received_at,
            u.event_id
        FROM event_tags AS t
        CROSS JOIN
            LATERAL unnest(t.received_ats, t.event_ids) AS u (received_at, event_id)
        WHERE
            t.project_id = p_project_id
            AND t.tag_key = v_tag_key
            AND t.tag_value = v_tag_value
            AND t.received_at >= v_bound
            AND u.received_at >= v_bound
        ORDER BY u.received_at DESC, u.event_id DESC
    ) AS u
    CROSS JOIN
        LATERAL (
            SELECT e.*
            FROM events AS e
            WHERE
                e.project_id = p_project_id
                AND e.id = u.event_id
                AND e.received_at = u.received_at
                AND e.received_at >= v_bound
                AND e.tags @> p_tags
            LIMIT 1
        ) AS e
    ORDER BY u.received_at DESC, u.event_id DESC
    LIMIT p_page_size;
END
$$;

COMMENT ON FUNCTION filter_events_by_tags(UUID, JSONB, TIMESTAMPTZ, INTEGER) IS
'A project''s events carrying every pair of p_tags, newest first: walks event_tags by '
'the rarest pair, so its cost follows the page asked for. A function so that its '
'statements run on generic plans, with no planning per call (not on Citus).';
