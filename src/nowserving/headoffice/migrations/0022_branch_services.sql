-- Each branch's services as the branches file's `config =` names them (headoffice/regions.py,
-- `reports.staffing.ServiceNames`): {"services": {id: {"zh", "en", "group"?}}, "groups":
-- {id: {"zh", "en"}}}. The head-office pages name a branch's services and group its
-- staffing advice from it where the web role has no `--config` for the branch; '{}' for a
-- branch listed without `config =` (its services by id, ungrouped).
-- And whether its counters count as open from the day's start (the config's
-- `counters_start_open`, which its staffing advice follows); NULL without `config =`: open.
ALTER TABLE branch_dim ADD COLUMN services jsonb NOT NULL DEFAULT '{}';
ALTER TABLE branch_dim ADD COLUMN counters_start_open boolean;
