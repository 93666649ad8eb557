-- The epoch of the branch's retained state: its seq counts only against events of that epoch.
ALTER TABLE branches ADD COLUMN state_epoch integer;
