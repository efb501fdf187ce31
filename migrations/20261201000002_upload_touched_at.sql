-- When an upload last showed life: set by every step of its sender (a batch staged, the
-- release started, a batch released). Housekeeping judges uploads by it, not by `started_at`:
-- one still being received or released is left alone however long it takes, and only one
-- that has not moved for a while is discarded (receiving) or taken over (releasing).
ALTER TABLE uploads ADD COLUMN touched_at timestamptz NOT NULL DEFAULT now();
