-- Cloud code deployed through `basalt deploy` or POST /cloud_code/deploy: the newest row is
-- what the server runs after a restart, unless its --cloud files changed after it (PostgreSQL's
-- nodes also load it when another node deploys). The bundle is `{"entry", "files": {path: text}}`.
CREATE TABLE IF NOT EXISTS "_basalt_cloud_code" (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL,
    bundle TEXT NOT NULL,
    deployed_at INTEGER NOT NULL
);
