-- Cloud code deployed through `basalt deploy` or POST /cloud_code/deploy. Every node runs the
-- newest row: a node that hears of a deploy loads it, and one that starts loads it unless its own
-- --cloud files changed after it. The bundle is `{"entry", "files": {path: text}}`.
CREATE TABLE IF NOT EXISTS "_basalt_cloud_code" (
    id bigserial PRIMARY KEY,
    version text NOT NULL,
    bundle text NOT NULL,
    deployed_at bigint NOT NULL
);
