-- Where a branch's current epoch starts: its first event there is epoch_base + 1 (what came
-- before is the restored log's, in the older epoch). `recheck` counts from here.
ALTER TABLE branches ADD COLUMN epoch_base bigint;
UPDATE branches SET epoch_base = 0 WHERE epoch = 0;
ALTER TABLE branches ALTER COLUMN epoch_base SET DEFAULT 0;

-- Events let go by retention: per branch and epoch, seqs up to upto_seq may be missing on
-- purpose (recheck does not ask for them again).
CREATE TABLE retired (
    branch   text    NOT NULL,
    epoch    integer NOT NULL,
    upto_seq bigint  NOT NULL,
    PRIMARY KEY (branch, epoch)
);

-- The retention horizon: events before keep_from are not stored (their month was let go).
CREATE TABLE retention (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    keep_from  timestamptz NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Each ingest process's own health, as on its retained status topic.
CREATE TABLE ingest_health (
    client_id     text PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    stored        bigint NOT NULL DEFAULT 0,   -- events newly stored since it started
    rows_per_s    double precision NOT NULL DEFAULT 0,
    too_old       bigint NOT NULL DEFAULT 0,   -- events before the retention horizon, not stored
    holes_found   bigint NOT NULL DEFAULT 0,   -- by the periodic recheck
    last_error    text,
    last_error_at timestamptz
);
