-- filter_events_by_tags picks the pair it walks itself: a call is one
-- statement, where it was two (the layer asked rarest_tag_pair for the pair,
-- then called the function with it). The round trip saved was about a tenth
-- of a short read (a page of a few events). The pair is picked as before:
-- of the pairs asked for, the one the tag store counts fewest events of.
--
-- Replaces migration 0016's function (which took the pair as two arguments)
-- with one of four arguments; the walk is unchanged. The SET clauses hold
-- for both statements of the body: one generic plan each per session (see
-- 0016); on Citus, after_migrate.sql resets plan_cache_mode.
DROP FUNCTION filter_events_by_tags(UUID, JSONB, TEXT, TEXT, TIMESTAMPTZ, INTEGER);

CREATE FUNCTION filter_events_by_tags(
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
BEGIN
    -- Of the pairs asked for, the one on the fewest of the project's events
    -- by the tag store's counts (project_tag_values: times_seen, one probe
    -- of its primary key per pair); a pair it does not know counts as none.
    -- Ties go to the first key in jsonb order (shorter keys first). Its
    -- events are the fewest to walk per match the tag store can tell. No
    -- pairs (an empty p_tags): no row, and no events below.
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

    -- That pair's rows of event_tags, newest first (the partitions' primary
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
        AND t.tag_key = v_tag_key
        AND t.tag_value = v_tag_value
        AND t.received_at >= p_since
    ORDER BY t.received_at DESC, t.event_id DESC
    LIMIT p_page_size;
END
$$;
