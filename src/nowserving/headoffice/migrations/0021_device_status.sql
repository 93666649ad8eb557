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
