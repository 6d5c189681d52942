-- System tables. Class tables are created by the schema layer when a class first appears.
CREATE TABLE IF NOT EXISTS "_SCHEMA" (
    "className" text PRIMARY KEY,
    "schema" jsonb NOT NULL,
    "isParseClass" boolean NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS "_GlobalConfig" (
    "objectId" text PRIMARY KEY,
    "params" jsonb NOT NULL DEFAULT '{}',
    "masterKeyOnly" jsonb NOT NULL DEFAULT '{}'
);
