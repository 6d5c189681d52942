-- ACL keys (see storage/ddl.rs `acl_key_column` and basalt-query's `KeyedAcl`): each read-ACL
-- entry of an object joined by U+001F to its value of a declared index's first field, stored
-- in a generated column with a GIN index. An entry or value that holds U+001F gets no key, so
-- a key can be read only one way. NULL when the value is NULL. IMMUTABLE, as a generated
-- column needs: it reads nothing but its arguments.
--
-- PL/pgSQL, not SQL: a SQL function that cannot be inlined is planned again for every
-- statement that calls it, which made inserts 40% slower (pgbench, 32 clients: 8,920 against
-- 15,001/s with the ACL twin index); PL/pgSQL keeps its plans per connection (12,966–13,293/s).
CREATE OR REPLACE FUNCTION basalt_acl_keys(perms text[], v text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    keys text[] := '{}';
    p text;
BEGIN
    IF perms IS NULL OR v IS NULL OR strpos(v, chr(31)) > 0 THEN
        RETURN NULL;
    END IF;
    FOREACH p IN ARRAY perms LOOP
        IF p IS NOT NULL AND strpos(p, chr(31)) = 0 THEN
            keys := keys || (p || chr(31) || v);
        END IF;
    END LOOP;
    RETURN keys;
END
$$;
