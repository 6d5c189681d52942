-- Uploaded files (POST /files/:name), kept in the database so every node of a cluster serves them.
CREATE TABLE IF NOT EXISTS "_Files" (
    "name" text PRIMARY KEY,
    "contentType" text NOT NULL,
    "data" bytea NOT NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now()
);
