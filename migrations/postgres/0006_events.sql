-- LiveQuery across nodes: events travel by NOTIFY, whose payload is limited to 8,000 bytes.
-- A larger one is kept here for the other nodes to read, by id, for a couple of minutes.
CREATE TABLE IF NOT EXISTS "_basalt_events" (
    id bigserial PRIMARY KEY,
    payload text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
