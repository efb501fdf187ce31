-- The audit ledger: campaigns, one row per item with its final outcome, uploads in progress,
-- account state, and the append-only trail of operator actions.
-- Times are timestamptz; ids are text as the job model spells them (CampaignId, UUIDv7 job ids).

CREATE TABLE campaigns (
    id                  text PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL,
    description         text,
    -- running: its jobs run; paused: they are held at admission; cancelled: they are dropped
    -- at admission (recorded as `cancelled`); finished: closed and every item has its outcome.
    state               text NOT NULL DEFAULT 'running'
                        CHECK (state IN ('running', 'paused', 'cancelled', 'finished')),
    -- Whether items may still be added (closed campaigns finish once nothing is pending).
    accepting           boolean NOT NULL DEFAULT true,
    -- Items in the campaign, and those without a final outcome yet (kept by the statements
    -- that insert items and record outcomes, so status never has to count millions of rows).
    items               bigint NOT NULL DEFAULT 0 CHECK (items >= 0),
    pending             bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
    ended_at            timestamptz,
    -- When the completion event went on the events stream (the outbox: NULL = still to send).
    event_published_at  timestamptz
);

CREATE TABLE uploads (
    id          uuid PRIMARY KEY,
    campaign_id text NOT NULL REFERENCES campaigns (id),
    created_by  text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    -- receiving: rows are being staged; releasing: staged rows are being enqueued;
    -- released: every accepted row is in the queue; discarded: the upload failed, its rows are gone.
    state       text NOT NULL DEFAULT 'receiving'
                CHECK (state IN ('receiving', 'releasing', 'released', 'discarded')),
    accepted    bigint NOT NULL DEFAULT 0,
    rejected    bigint NOT NULL DEFAULT 0,
    finished_at timestamptz
);

CREATE TABLE items (
    job_id           text PRIMARY KEY,
    campaign_id      text REFERENCES campaigns (id),
    upload_id        uuid REFERENCES uploads (id),
    -- The row's line in its upload (1-based), for reports that point back at the file.
    line             bigint,
    provider         text NOT NULL,
    account          text NOT NULL,
    group_ref        text NOT NULL,
    idempotency_key  text,
    requested_by     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- When the job went on the queue (NULL while its upload is still being received).
    queued_at        timestamptz,
    -- The final outcome: NULL while pending; a provider outcome class, `dead_letter`
    -- classes carry dead_letter = true, or `cancelled`.
    outcome          text,
    success          boolean,
    dead_letter      boolean NOT NULL DEFAULT false,
    detail           text,
    attempts         integer NOT NULL DEFAULT 0,
    throttled        integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_error       text,
    http_status      smallint,
    -- A safe summary of the provider's last answer (status and redacted body excerpt).
    answer           text,
    finished_at      timestamptz
) WITH (fillfactor = 80);
-- Free room on every page so that recording an outcome (columns no index covers) is a HOT
-- update: no index is touched on the write path of a staged item.

-- Indexes cover only columns fixed when an item is added (never the outcome), and only
-- campaign items: jobs outside campaigns are found by job id.
-- One item per target in a campaign.
CREATE UNIQUE INDEX items_campaign_target
    ON items (campaign_id, provider, account, group_ref) WHERE campaign_id IS NOT NULL;
-- Listing a campaign's items in job-id (time) order, all or one account's (an outcome filter
-- reads the campaign's items in that order).
CREATE INDEX items_campaign_job ON items (campaign_id, job_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX items_campaign_account
    ON items (campaign_id, account, job_id) WHERE campaign_id IS NOT NULL;
-- Releasing an upload's staged rows.
CREATE INDEX items_upload_staged ON items (upload_id, job_id) WHERE queued_at IS NULL;

CREATE TABLE accounts (
    name        text PRIMARY KEY,
    provider    text NOT NULL,
    paused      boolean NOT NULL DEFAULT false,
    reason      text,
    paused_at   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Operator actions, append-only: rows can be added, never changed or removed.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL,
    detail  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
