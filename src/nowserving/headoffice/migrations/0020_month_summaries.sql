-- Month summaries (docs/headoffice.md, "Month summaries"): a calendar month's report figures
-- kept beside the daily rollups, made from them by headoffice/months.py (the same
-- reports.kpi code as a report over the days), so a report of a whole month reads a few
-- hundred rows instead of every rollup row's sorted arrays. Numbered 0020: the derived
-- tables' range (0010-) may still grow side by side.
CREATE TABLE month_summaries (
    month    date NOT NULL,   -- its first day (branch-local dates, as visits_daily.day)
    grouping text NOT NULL,   -- 'branch', 'region', 'service', 'total'
    region   text NOT NULL,   -- '' = every branch; else only that region's branches
    key      text NOT NULL,   -- the branch, region or service ('' for the total)
    figures  jsonb NOT NULL,  -- reports.kpi.Tally.figures() (null where it is nan)
    PRIMARY KEY (month, grouping, region, key)
);

-- What each month's summary was made from (the report uses it only while these still hold):
-- its rollup rows' count and newest made_at, the branches' regions, its last day with rows.
CREATE TABLE month_summary_made (
    month     date PRIMARY KEY,
    rows      bigint NOT NULL,
    newest    timestamptz,
    regions   text,
    last_day  date,
    made_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    took_s    float8
);

-- Months whose daily rollups changed since their summary (marked by the triggers below, on
-- every rebuild of one of their days). `first_marked` bounds how long a month running may
-- wait for its summary; `generation` grows with each mark.
CREATE TABLE month_summary_due (
    month        date PRIMARY KEY,
    generation   bigint NOT NULL DEFAULT 1,
    first_marked timestamptz NOT NULL DEFAULT now(),
    marked_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION mark_month_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO month_summary_due AS m (month)
        SELECT DISTINCT date_trunc('month', o.day)::date FROM old_rows o
        ON CONFLICT (month) DO UPDATE SET generation = m.generation + 1, marked_at = now();
    ELSE
        INSERT INTO month_summary_due AS m (month)
        SELECT DISTINCT date_trunc('month', n.day)::date FROM new_rows n
        ON CONFLICT (month) DO UPDATE SET generation = m.generation + 1, marked_at = now();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER visits_daily_month_due_insert AFTER INSERT ON visits_daily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mark_month_due();
CREATE TRIGGER visits_daily_month_due_delete AFTER DELETE ON visits_daily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mark_month_due();

-- Months that have rollups but were summed up before this table existed.
INSERT INTO month_summary_due (month)
SELECT DISTINCT date_trunc('month', day)::date FROM visits_daily;
