-- Scheduled jobs run once per due time across every node: the node whose INSERT of the
-- (schedule, due time) pair succeeds runs it. Claims older than an hour are deleted.
CREATE TABLE IF NOT EXISTS "_basalt_job_runs" (
    schedule text NOT NULL,
    due_at bigint NOT NULL,
    PRIMARY KEY (schedule, due_at)
);
