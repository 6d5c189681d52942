-- System tables. Class tables are created by the schema layer when a class first appears.
CREATE TABLE IF NOT EXISTS "_SCHEMA" (
    "className" TEXT PRIMARY KEY,
    "schema" TEXT NOT NULL,
    "isParseClass" INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS "_GlobalConfig" (
    "objectId" TEXT PRIMARY KEY,
    "params" TEXT NOT NULL DEFAULT '{}',
    "masterKeyOnly" TEXT NOT NULL DEFAULT '{}'
);
