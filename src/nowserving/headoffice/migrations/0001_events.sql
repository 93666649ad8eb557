-- Every branch's events, append-only, partitioned by month of the event's time (UTC).
-- An event is named by (branch, epoch, seq); `at` is in the key because a partitioned
-- table's keys must hold its partition key (an event's time never changes).
CREATE TABLE events (
    branch      text        NOT NULL,
    epoch       integer     NOT NULL,
    seq         bigint      NOT NULL,
    at          timestamptz NOT NULL,
    type        text        NOT NULL,
    command_id  text,
    device      text,
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    via         text        NOT NULL DEFAULT 'stream',  -- 'stream' or 'repair'
    PRIMARY KEY (branch, epoch, seq, at)
) PARTITION BY RANGE (at);

-- One row per branch: how far the head office has it, and whether its link is up.
CREATE TABLE branches (
    branch            text PRIMARY KEY,
    epoch             integer NOT NULL DEFAULT 0,   -- the newest epoch seen
    contiguous_seq    bigint  NOT NULL DEFAULT 0,   -- every event of `epoch` up to here is in
    max_seq           bigint  NOT NULL DEFAULT 0,   -- the highest seq of `epoch` that is in
    state_seq         bigint,                       -- the branch's own seq (its retained state)
    last_event_at     timestamptz,                  -- the branch's time of its newest event
    last_event_received timestamptz,                -- when the newest event came in
    last_heard        timestamptz,                  -- when anything came from the branch
    server_online     boolean,                      -- the branch server's retained status
    link_up           boolean,                      -- the bridge's flag (nowserving/bridge/<b>)
    link_changed      timestamptz,
    gaps_repaired     bigint  NOT NULL DEFAULT 0,
    events_repaired   bigint  NOT NULL DEFAULT 0
);

-- Each range the ingest asked a branch server for, and what became of it.
CREATE TABLE gaps (
    branch      text    NOT NULL,
    epoch       integer NOT NULL,
    first_seq   bigint  NOT NULL,
    last_seq    bigint  NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT now(),
    asked_at    timestamptz,
    asks        integer NOT NULL DEFAULT 0,
    repaired_at timestamptz,
    PRIMARY KEY (branch, epoch, first_seq)
);
