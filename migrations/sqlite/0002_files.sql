-- Uploaded files (POST /files/:name), kept in the database so every node of a cluster serves them.
CREATE TABLE IF NOT EXISTS "_Files" (
    "name" TEXT PRIMARY KEY,
    "contentType" TEXT NOT NULL,
    "data" BLOB NOT NULL,
    "createdAt" TEXT NOT NULL
);
