-- ACL keys (see storage/ddl.rs `acl_key_column` and basalt-query's `KeyedAcl`): each read-ACL
-- entry of an object joined by U+001F to its value of a declared index's first field, stored
-- in a generated column with a GIN index. An entry or value that holds U+001F gets no key, so
-- a key can be read only one way. NULL when the value is NULL. IMMUTABLE, as a generated
-- column needs: it reads nothing but its arguments.
CREATE OR REPLACE FUNCTION basalt_acl_keys(perms text[], v text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT array_agg(p || chr(31) || v)
    FROM unnest(perms) AS p
    WHERE strpos(p, chr(31)) = 0 AND strpos(v, chr(31)) = 0
$$;
