-- Derived tables (docs/headoffice.md, "Star schema"): the visit facts and their hourly and
-- daily rollups, rebuilt per branch-day from `events` (headoffice/visits.py), never patched;
-- the region and branch dimensions, from the head office's branches file.
CREATE TABLE region_dim (
    region  text PRIMARY KEY,
    name_zh text NOT NULL,
    name_en text NOT NULL
);

CREATE TABLE branch_dim (
    branch   text PRIMARY KEY,
    region   text REFERENCES region_dim ON DELETE SET NULL,
    name_zh  text NOT NULL,
    name_en  text NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',         -- its days and hours are local to this
    targets  jsonb NOT NULL DEFAULT '{}'::jsonb   -- service -> [share 0-1, wait seconds]
);

-- One row per ticket: reports.kpi.Visit's fields, plus its branch and local day and hour.
CREATE TABLE visits (
    branch        text        NOT NULL,
    day           date        NOT NULL,   -- the local date it was issued (branch_dim.timezone)
    hour          smallint    NOT NULL,   -- the local hour it was issued
    ticket        text        NOT NULL,
    service       text        NOT NULL,   -- the service it was issued for
    issued_at     timestamptz NOT NULL,
    called_at     timestamptz,            -- its first call
    begun_at      timestamptz,            -- the start of the service that finished
    ended_at      timestamptz,
    outcome       text        NOT NULL,   -- served, no_show, cancelled, expired, open
    counter       text,                   -- who called it last
    staff         text,
    transfers     integer     NOT NULL,
    rating        text,                   -- satisfied, neutral, unsatisfied
    estimate_low  float8,                 -- the printed range (seconds of wait), while its own
    estimate_high float8,
    priority      text        NOT NULL,
    wait_s        float8,                 -- first call - issue (exact, from the branch's times)
    service_s     float8,                 -- served only
    within_target boolean,                -- called within its service's target (ended visits)
    PRIMARY KEY (branch, day, ticket)
);
CREATE INDEX visits_day ON visits (day, branch);

-- Per branch x local day x service: the counts of reports.kpi and the sorted figures the
-- percentiles are taken from (so a range's p90 is exact, as the branch console's).
CREATE TABLE visits_daily (
    branch        text    NOT NULL,
    day           date    NOT NULL,
    service       text    NOT NULL,
    target_s      float8  NOT NULL,       -- the wait target it was counted against
    issued        integer NOT NULL,
    served        integer NOT NULL,
    no_shows      integer NOT NULL,
    cancelled     integer NOT NULL,
    expired       integer NOT NULL,
    open          integer NOT NULL,
    transferred   integer NOT NULL,
    within_target integer NOT NULL,
    satisfied     integer NOT NULL,
    neutral       integer NOT NULL,
    unsatisfied   integer NOT NULL,
    audited       integer NOT NULL,
    inside_range  integer NOT NULL,
    wait_sum      float8  NOT NULL,
    service_sum   float8  NOT NULL,
    waits         float8[] NOT NULL,      -- sorted
    services      float8[] NOT NULL,      -- sorted
    services_satisfied   float8[] NOT NULL,
    services_neutral     float8[] NOT NULL,
    services_unsatisfied float8[] NOT NULL,
    PRIMARY KEY (branch, day, service)
);
CREATE INDEX visits_daily_day ON visits_daily (day);

-- Per branch x local day x local hour x service: arrivals and throughput (staffing, BI).
CREATE TABLE visits_hourly (
    branch        text     NOT NULL,
    day           date     NOT NULL,
    hour          smallint NOT NULL,
    service       text     NOT NULL,
    issued        integer  NOT NULL,
    called        integer  NOT NULL,
    served        integer  NOT NULL,
    no_shows      integer  NOT NULL,
    within_target integer  NOT NULL,
    wait_sum      float8   NOT NULL,
    service_sum   float8   NOT NULL,
    PRIMARY KEY (branch, day, hour, service)
);

-- Branch-days whose events changed since their rebuild. `generation` grows with each mark:
-- a rebuild removes the row only if no mark came while it ran.
CREATE TABLE rebuild_due (
    branch     text    NOT NULL,
    day        date    NOT NULL,
    generation bigint  NOT NULL DEFAULT 1,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (branch, day)
);

-- Every insert into `events` marks the local days of its events; a day's rollover
-- (expiring the day before) and a rating (of a visit that may be the day before's) mark
-- the day before too. One statement-level trigger: one pass per batch, not per row.
CREATE FUNCTION mark_rebuild_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rebuild_due AS r (branch, day)
    SELECT DISTINCT n.branch, d.day
    FROM new_events n
    LEFT JOIN branch_dim b ON b.branch = n.branch
    CROSS JOIN LATERAL (
        SELECT (n.at AT TIME ZONE coalesce(b.timezone, 'UTC'))::date AS day
        UNION ALL
        SELECT (n.at AT TIME ZONE coalesce(b.timezone, 'UTC'))::date - 1
        WHERE n.type IN ('day_started', 'ticket_rated')
    ) d
    ON CONFLICT (branch, day) DO UPDATE
        SET generation = r.generation + 1, marked_at = now();
    RETURN NULL;
END $$;

CREATE TRIGGER events_mark_rebuild_due AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION mark_rebuild_due();
