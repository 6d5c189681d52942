-- Users, roles and sessions: Parse's system classes, created up front as Parse Server does.
-- `password` and `sessionToken` are listed by /schemas but never stored: `_hashed_password`
-- holds an argon2id (or imported bcrypt) hash, `_token_hash` the SHA-256 of a session token.
CREATE TABLE IF NOT EXISTS "_User" (
    "objectId" text PRIMARY KEY,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "_rperm" text[],
    "_wperm" text[],
    "username" text,
    "email" text,
    "emailVerified" boolean,
    "authData" jsonb,
    "_hashed_password" text
);
CREATE INDEX IF NOT EXISTS "_User_createdAt" ON "_User" ("createdAt");
CREATE INDEX IF NOT EXISTS "_User_updatedAt" ON "_User" ("updatedAt");
CREATE INDEX IF NOT EXISTS "_User__rperm" ON "_User" USING GIN ((COALESCE("_rperm", '{*}'::text[]))) WITH (fastupdate = off);
CREATE UNIQUE INDEX IF NOT EXISTS "_User_unique_username" ON "_User" ("username");
CREATE UNIQUE INDEX IF NOT EXISTS "_User_unique_email" ON "_User" ("email");
-- Sign-up refuses a username or email that differs only in case; these serve that check.
CREATE INDEX IF NOT EXISTS "_User_lower_username" ON "_User" (lower("username"));
CREATE INDEX IF NOT EXISTS "_User_lower_email" ON "_User" (lower("email"));
CREATE UNIQUE INDEX IF NOT EXISTS "_User_unique_anonymous_id" ON "_User" (("authData" -> 'anonymous' ->> 'id')) WHERE ("authData" -> 'anonymous' ->> 'id') IS NOT NULL;
CREATE TABLE IF NOT EXISTS "_Role" (
    "objectId" text PRIMARY KEY,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "_rperm" text[],
    "_wperm" text[],
    "name" text
);
CREATE INDEX IF NOT EXISTS "_Role_createdAt" ON "_Role" ("createdAt");
CREATE INDEX IF NOT EXISTS "_Role_updatedAt" ON "_Role" ("updatedAt");
CREATE INDEX IF NOT EXISTS "_Role__rperm" ON "_Role" USING GIN ((COALESCE("_rperm", '{*}'::text[]))) WITH (fastupdate = off);
CREATE UNIQUE INDEX IF NOT EXISTS "_Role_unique_name" ON "_Role" ("name");
CREATE TABLE IF NOT EXISTS "_Join:users:_Role" ("relatedId" text NOT NULL, "owningId" text NOT NULL, PRIMARY KEY ("owningId", "relatedId"));
CREATE INDEX IF NOT EXISTS "_Join:users:_Role_related" ON "_Join:users:_Role" ("relatedId");
CREATE TABLE IF NOT EXISTS "_Join:roles:_Role" ("relatedId" text NOT NULL, "owningId" text NOT NULL, PRIMARY KEY ("owningId", "relatedId"));
CREATE INDEX IF NOT EXISTS "_Join:roles:_Role_related" ON "_Join:roles:_Role" ("relatedId");
CREATE TABLE IF NOT EXISTS "_Session" (
    "objectId" text PRIMARY KEY,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "_rperm" text[],
    "_wperm" text[],
    "user" text,
    "installationId" text,
    "expiresAt" timestamptz,
    "createdWith" jsonb,
    "_token_hash" text
);
CREATE INDEX IF NOT EXISTS "_Session_createdAt" ON "_Session" ("createdAt");
CREATE INDEX IF NOT EXISTS "_Session_updatedAt" ON "_Session" ("updatedAt");
CREATE INDEX IF NOT EXISTS "_Session__rperm" ON "_Session" USING GIN ((COALESCE("_rperm", '{*}'::text[]))) WITH (fastupdate = off);
CREATE UNIQUE INDEX IF NOT EXISTS "_Session_token_hash" ON "_Session" ("_token_hash");
CREATE INDEX IF NOT EXISTS "_Session_user" ON "_Session" ("user");
INSERT INTO "_SCHEMA" ("className", "schema") VALUES
    ('_User', '{"className":"_User","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"username":{"type":"String"},"email":{"type":"String"},"emailVerified":{"type":"Boolean"},"authData":{"type":"Object"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}'),
    ('_Role', '{"className":"_Role","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"name":{"type":"String"},"users":{"type":"Relation","targetClass":"_User"},"roles":{"type":"Relation","targetClass":"_Role"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}'),
    ('_Session', '{"className":"_Session","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"user":{"type":"Pointer","targetClass":"_User"},"installationId":{"type":"String"},"expiresAt":{"type":"Date"},"createdWith":{"type":"Object"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}')
ON CONFLICT ("className") DO NOTHING;
