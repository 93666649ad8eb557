-- Each branch's live summary, from its newest retained state (`nowserving/v2/<b>/state`) as
-- the ingest stores it with the batch that brought it (headoffice/live.py): what the live
-- page shows within a second or two of a call, before today's visits are rebuilt.
ALTER TABLE branches ADD COLUMN live jsonb;
