-- When each daily rollup row was made (by its branch-day's rebuild): with the rows' count,
-- what tells a report kept by the web role that its days changed (web/console_headoffice.py).
ALTER TABLE visits_daily ADD COLUMN made_at timestamptz NOT NULL DEFAULT clock_timestamp();
