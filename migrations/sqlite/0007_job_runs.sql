-- Scheduled jobs run once per due time: the run is claimed by inserting the (schedule, due
-- time) pair (SQLite has one node, but the rule is the same as PostgreSQL's).
CREATE TABLE IF NOT EXISTS "_basalt_job_runs" (
    schedule TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (schedule, due_at)
);
