-- Each branch's devices as their retained `nowserving/v2/<b>/status/<device>` says (the
-- bridge forwards them; a device's last will says `"online": false`): the live page's
-- "devices down" for every branch. One row a device, changed only when its status does.
CREATE TABLE device_status (
    branch     text NOT NULL,
    device     text NOT NULL,
    online     boolean NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (branch, device)
);

-- Each branch's epochs before its current one (a restore from backup starts a new epoch):
-- where each began (`base`: the seq before its first event; 0 until the branch said),
-- how far it went (`top`), and how far every event is in (`contiguous_seq`). A hole found
-- in one later (recheck) is asked of the branch by `events_range` naming that epoch.
CREATE TABLE past_epochs (
    branch         text NOT NULL,
    epoch          integer NOT NULL,
    base           bigint NOT NULL,
    top            bigint NOT NULL,
    contiguous_seq bigint NOT NULL,
    PRIMARY KEY (branch, epoch)
);
