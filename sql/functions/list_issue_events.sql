-- A page of an issue's events, newest first, those of the issues merged
-- into it included (a merge rewrites no event: they keep their issue_id),
-- at most p_page_size of them; after (p_after_received_at, p_after_id) when
-- given (keyset). With p_project_id, only an issue of that project; none for
-- a deleted issue or project (queries/events.sql, list_events_for_issue*).
--
-- The events table has a partition per day. Merging every partition's
-- newest rows of the issue opens every partition on each call, so that the
-- cost grew with the retention (90 days: several times that at 7). The page
-- is read instead in time windows, newest first, each one statement whose
-- bounds prune the partitions outside it when it starts: the first from the
-- issues' last event (or the cursor) back as far as their rate of events
-- (event_count over first to last seen) says holds twice a page, and
-- anything newer; then the window before it, each twice as long as the one
-- after it, down to the issues' first event; then, if the page is still not
-- full, everything older (so that no event is missed, whatever first_seen
-- and last_seen say). Each window's rows are a page per issue from
-- idx_events_issue_received in its partitions, merged. The cost follows the
-- page and the windows it takes, not the partitions kept.
--
-- A function so that its statements keep one generic plan per session and
-- prune at run time; on Citus, after_migrate.sql resets plan_cache_mode, as
-- for filter_events_by_tags.
--
-- It returns rows of the events table (SETOF events: a row type, not a
-- built-in type to capitalise).
CREATE OR REPLACE FUNCTION list_issue_events(
    p_project_id UUID,
    p_issue_id UUID,
    p_after_received_at TIMESTAMPTZ,
    p_after_id UUID,
    p_page_size INTEGER
) RETURNS SETOF events  -- noqa: CP05
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET plan_cache_mode TO force_generic_plan
AS $$
DECLARE
    -- The issue and those merged into it, their project, their events
    -- and the times of their first and last.
    v_ids UUID[];
    v_project_id UUID;
    v_events BIGINT;
    v_oldest TIMESTAMPTZ;
    v_newest TIMESTAMPTZ;
    -- The window [v_lower, v_upper) read next, and its length.
    v_lower TIMESTAMPTZ;
    v_upper TIMESTAMPTZ;
    v_step INTERVAL;
    -- Rows still to return.
    v_left INTEGER := p_page_size;
    v_got INTEGER;
BEGIN
    IF p_project_id IS NULL THEN
        SELECT
            array_agg(i.id),
            (array_agg(i.project_id))[1],
            sum(i.event_count),
            min(i.first_seen),
            max(i.last_seen)
        INTO v_ids, v_project_id, v_events, v_oldest, v_newest
        FROM issues AS i
        WHERE
            (i.id = p_issue_id OR i.merged_into = p_issue_id)
            AND i.deleted_at IS NULL
            AND NOT EXISTS (
                SELECT FROM projects AS p
                WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
            );
    ELSE
        SELECT
            array_agg(i.id),
            (array_agg(i.project_id))[1],
            sum(i.event_count),
            min(i.first_seen),
            max(i.last_seen)
        INTO v_ids, v_project_id, v_events, v_oldest, v_newest
        FROM issues AS i
        WHERE
            i.project_id = p_project_id
            AND (i.id = p_issue_id OR i.merged_into = p_issue_id)
            AND i.deleted_at IS NULL
            AND NOT EXISTS (
                SELECT FROM projects AS p
                WHERE p.id = p_project_id AND p.deleted_at IS NOT NULL
            );
    END IF;
    IF v_ids IS NULL OR p_page_size < 1 THEN
        RETURN;
    END IF;

    -- The first window ends after the cursor (timestamps are whole
    -- microseconds: before the next one), or never.
    v_upper := coalesce(p_after_received_at + INTERVAL '1 microsecond', 'infinity');
    v_step := greatest(
        INTERVAL '1 hour', (v_newest - v_oldest) * p_page_size * 2 / greatest(v_events, 1)
    );
    v_lower := greatest(least(v_newest, p_after_received_at) - v_step, v_oldest);
    LOOP
        RETURN QUERY
        SELECT e.*
        FROM unnest(v_ids) AS m (issue_id)
        CROSS JOIN
            LATERAL (
                SELECT one.*
                FROM events AS one
                WHERE
                    one.project_id = v_project_id
                    AND one.issue_id = m.issue_id
                    AND one.received_at >= v_lower
                    AND one.received_at < v_upper
                    AND (
                        p_after_id IS NULL
                        OR (one.received_at, one.id) < (p_after_received_at, p_after_id)
                    )
                ORDER BY one.received_at DESC, one.id DESC
                LIMIT v_left
            ) AS e
        ORDER BY e.received_at DESC, e.id DESC
        LIMIT v_left;
        GET DIAGNOSTICS v_got = ROW_COUNT;
        v_left := v_left - v_got;
        EXIT WHEN v_left <= 0 OR v_lower = '-infinity';
        v_upper := v_lower;
        IF v_lower <= v_oldest THEN
            v_lower := '-infinity';
        ELSE
            v_step := v_step * 2;
            v_lower := greatest(v_lower - v_step, v_oldest);
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION list_issue_events(UUID, UUID, TIMESTAMPTZ, UUID, INTEGER) IS
'A page of an issue''s events (merged issues'' included), newest first: read in time '
'windows from its last event back, the first sized by its rate of events, each next one '
'twice as long, until the page is full, so that its cost follows the page, not the '
'partitions kept.';
