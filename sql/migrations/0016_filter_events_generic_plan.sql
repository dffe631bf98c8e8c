-- filter_events_by_tags as a function, so that its statement runs on one
-- generic plan, made once per session, whatever the values (issue 11,
-- part 4: "with prepared (generic) plans as well as custom ones").
--
-- Why: the statement joins two partitioned tables. A custom plan (planned
-- for the call's values) costs 2 to 4 ms of planning on every call with 16
-- daily partitions, where the walk itself takes a few tenths of a
-- millisecond; the generic plan prunes the partitions older than since when
-- it starts (runtime pruning) and costs no planning after the first call.
-- PostgreSQL picks between the two by estimated cost; as a prepared
-- statement, the query got the custom plan at 1,000,000 events and the
-- generic one at 10,000, so its latency grew with the data set (BENCHMARKS.md,
-- scenario 5). The SET clause below holds for the function's statement
-- only; the caller's setting is untouched.
--
-- On Citus, after_migrate.sql resets the setting: Citus plans a query with
-- parameters per call, by the values, and refuses to run its generic plan.
--
-- It returns rows of the events table (SETOF events: a row type, not a
-- built-in type to capitalise). queries/events.sql (filter_events_by_tags)
-- calls it; before this migration, that file held the statement itself.
CREATE FUNCTION filter_events_by_tags(
    p_project_id UUID,
    p_tags JSONB,
    p_tag_key TEXT,
    p_tag_value TEXT,
    p_since TIMESTAMPTZ,
    p_page_size INTEGER
) RETURNS SETOF events  -- noqa: CP05
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET plan_cache_mode TO force_generic_plan
AS $$
BEGIN
    -- One pair's rows of event_tags, newest first (the partitions' primary
    -- keys merged; p_since prunes the older partitions), each row's event
    -- by its primary key, those whose tags contain every pair, until
    -- p_page_size are found. The event is fetched in a LATERAL subquery with
    -- LIMIT 1 (one event per row): the planner cannot estimate the join on
    -- the event's id and time, and would otherwise join every row of the pair
    -- to events before the LIMIT. p_since bounds the events too, so that
    -- their partitions older than it are pruned once, not skipped per row.
    RETURN QUERY
    SELECT e.*
    FROM event_tags AS t
    CROSS JOIN
        LATERAL (
            SELECT e.*
            FROM events AS e
            WHERE
                e.project_id = p_project_id
                AND e.id = t.event_id
                AND e.received_at = t.received_at
                AND e.received_at >= p_since
                AND e.tags @> p_tags
            LIMIT 1
        ) AS e
    WHERE
        t.project_id = p_project_id
        AND t.tag_key = p_tag_key
        AND t.tag_value = p_tag_value
        AND t.received_at >= p_since
    ORDER BY t.received_at DESC, t.event_id DESC
    LIMIT p_page_size;
END
$$;
