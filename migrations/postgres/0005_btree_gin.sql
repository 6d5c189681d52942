-- btree_gin lets one GIN index hold a class's read ACL together with the scalar fields of an
-- index declared through /schemas (see storage/ddl.rs `acl_twin_index`). It is a trusted
-- extension (PostgreSQL 13+): a database owner may install it. Where it cannot be installed,
-- Basalt runs without the twin indexes.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'btree_gin is not available (%): per-user queries will not have ACL-aware indexes', SQLERRM;
END
$$;
