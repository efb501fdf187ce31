-- The completion-event outbox hands each unpublished end to one publisher at a time: whoever
-- ends a campaign publishes its event; the outbox takes over only when that has not happened
-- a lease after `ended_at`, and claims the row (`event_claimed_at`) for one lease, so two
-- workers' housekeeping never publish the same end unless a publisher stopped half-way.
ALTER TABLE campaigns ADD COLUMN event_claimed_at timestamptz;
