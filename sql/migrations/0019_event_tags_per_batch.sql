-- event_tags (migration 0015) holds one row per batch, tag pair and UTC day,
-- not one per event and pair: the row lists the batch's events of that pair
-- that day, newest first (event_ids and their received_ats, in the same
-- order), and its key is its newest event's (received_at, event_id).
--
-- Why: the write path inserted a row per event and pair (five per event in
-- the bench's data), each a heap tuple and a primary-key entry: about half
-- of what its last statement cost, for a batch of new issues (bench/NOTES.md,
-- scenario 11). A batch holds few distinct pairs (about twenty in the
-- bench's data, for 2,500 pairs of 500 events), so the rows per batch fall
-- a hundredfold; the write path groups them itself and sends each row's
-- events as positions in the batch's arrays (queries/ingest.sql,
-- upsert_tags_and_counts).
--
-- What the walk pays for it: a row's events are no longer in the order of
-- the primary key across rows, since batches written at the same time
-- overlap in time. filter_events_by_tags (below) walks the rows newest
-- first until it has found as many events as asked for; the oldest of them
-- bounds the answer from below, and a second statement reads the rows
-- whose newest event is at least that new (those walked, and any that
-- overlap them) and sorts their events from the bound on. Both statements
-- read a number of rows that follows the page asked for, not the number of
-- matches. A walk that finds fewer has found every match, and returns them.
--
-- Partitioned as before: a row's events are all of its day, so the row goes
-- with their partition (create_events_partition and
-- drop_expired_events_partitions work on received_at, the newest event's).
--
-- Upgrading: the rows are made again from the stored events (a full scan of
-- events and a sort of their ids), grouped as the write path would have in
-- batches of 500. Until the migration commits, event_tags is locked
-- (TRUNCATE): the write path and the tag filter wait. On a large table, run
-- it in a quiet hour. Older code's write path fails once it has run (its
-- insert lacks the new columns): upgrade the code with it.

TRUNCATE event_tags;

ALTER TABLE event_tags
ADD COLUMN received_ats TIMESTAMPTZ[] NOT NULL,
ADD COLUMN event_ids UUID[] NOT NULL;

-- A statement of its own: Citus runs ADD CONSTRAINT alone.
ALTER TABLE event_tags
ADD CONSTRAINT event_tags_entries_check CHECK (
    cardinality(event_ids) > 0
    AND cardinality(received_ats) = cardinality(event_ids)
    AND event_ids[1] = event_id
    AND received_ats[1] = received_at
);

-- The rows of the stored events: each project's events in time order, cut
-- into batches of 500, and a row per batch, pair and UTC day.
INSERT INTO event_tags (
    project_id, tag_key, tag_value, received_at, event_id, received_ats, event_ids
)
SELECT
    r.project_id,
    r.tag_key,
    r.tag_value,
    r.received_ats[1] AS received_at,
    r.event_ids[1] AS event_id,
    r.received_ats,
    r.event_ids
FROM (
    SELECT
        b.project_id,
        t.tag_key,
        t.tag_value,
        array_agg(b.received_at ORDER BY b.received_at DESC, b.id DESC) AS received_ats,
        array_agg(b.id ORDER BY b.received_at DESC, b.id DESC) AS event_ids
    FROM (
        SELECT
            e.project_id,
            e.id,
            e.received_at,
            e.tags,
            (row_number() OVER (
                PARTITION BY e.project_id ORDER BY e.received_at, e.id
            ) - 1) / 500 AS batch
        FROM events AS e
    ) AS b
    CROSS JOIN LATERAL jsonb_each_text(b.tags) AS t (tag_key, tag_value)
    GROUP BY
        b.project_id, t.tag_key, t.tag_value, b.batch, date_trunc('day', b.received_at, 'UTC')
) AS r;

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
    -- The events the walk found (at most p_page_size), and the oldest one's
    -- time.
    v_found INTEGER;
    v_bound TIMESTAMPTZ;
    v_found_at TIMESTAMPTZ[];
    v_found_ids UUID[];
BEGIN
    -- Of the pairs asked for, the one on the fewest of the project's events
    -- by the tag store's counts (project_tag_values: times_seen, one probe
    -- of its primary key per pair); a pair it does not know counts as none.
    -- Ties go to the first key in jsonb order (shorter keys first). No pairs
    -- (an empty p_tags): no row, and no events below.
    SELECT
        t.key,
        t.value
    INTO v_tag_key, v_tag_value
    FROM jsonb_each_text(p_tags) AS t
    LEFT JOIN project_tag_values AS v
        ON
            v.project_id = p_project_id
            AND t.key = v.tag_key
            AND t.value = v.tag_value
    ORDER BY coalesce(v.times_seen, 0), t.key
    LIMIT 1;

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
