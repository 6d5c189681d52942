//! Snapshots of the SQL the compiler writes for each operator, per dialect. A change to the
//! generated SQL shows up here for review (`cargo insta review`).
//!
//! Test code: a fixture that fails to build is a failed test, so `expect` is the right tool.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use basalt_query::aggregate::Pipeline;
use basalt_query::{
    ClassSchema, Compiler, Dialect, FieldType, Filter, KeyedAcl, SchemaSource, Sql,
};
use serde_json::{Value, json};

struct Schemas(HashMap<String, Arc<ClassSchema>>);

impl SchemaSource for Schemas {
    fn class(&self, name: &str) -> Option<Arc<ClassSchema>> {
        self.0.get(name).cloned()
    }
}

fn schemas() -> Schemas {
    let mut post = ClassSchema::new("Post");
    for (name, ty) in [
        ("title", FieldType::String),
        ("score", FieldType::Number),
        ("live", FieldType::Boolean),
        ("at", FieldType::Date),
        ("meta", FieldType::Object),
        ("tags", FieldType::Array),
        ("author", FieldType::Pointer("_User".into())),
        ("likes", FieldType::Relation("_User".into())),
        ("loc", FieldType::GeoPoint),
        ("area", FieldType::Polygon),
    ] {
        post.fields.insert(name.into(), ty);
    }
    let mut user = ClassSchema::new("_User");
    user.fields.insert("name".into(), FieldType::String);
    Schemas(HashMap::from([
        ("Post".into(), Arc::new(post)),
        ("_User".into(), Arc::new(user)),
    ]))
}

fn render(sql: &Sql) -> String {
    format!("{}\n-- binds: {:?}", sql.text, sql.binds)
}

/// The WHERE clause for `where` on Post, for both dialects, as the public caller sees it.
fn both(where_: Value) -> String {
    let s = schemas();
    let schema = s.class("Post").expect("fixture");
    let filter = Filter::parse(&where_).expect("valid where");
    let perms = vec!["*".to_string()];
    let mut out = String::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let c = Compiler {
            dialect,
            schemas: &s,
            perms: Some(&perms),
        };
        let mut sql = Sql::new(dialect);
        c.where_clause(&schema, &filter, 0, &mut sql)
            .expect("compiles");
        out.push_str(&format!("[{dialect:?}]\n{}\n\n", render(&sql)));
    }
    out
}

macro_rules! case {
    ($name:ident, $where:tt) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(both(json!($where)));
        }
    };
}

case!(equality_and_ranges, {"title": "a", "score": {"$gte": 1, "$lt": 5}, "live": true});
case!(dates, {"at": {"$gt": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}});
case!(ne_and_null, {"title": {"$ne": "x"}, "score": null});
case!(in_and_nin, {"title": {"$in": ["a", "b", null]}, "score": {"$nin": [1, 2]}});
case!(arrays, {"tags": "x", "meta.k": {"$gt": 2}});
case!(array_all_containedby, {"tags": {"$all": ["a", "b"], "$containedBy": ["a", "b", "c"]}});
case!(exists_and_regex, {"title": {"$exists": true, "$regex": "^a.c", "$options": "i"}, "meta.x": {"$exists": false}});
case!(pointer_and_relation, {"author": {"__type": "Pointer", "className": "_User", "objectId": "u1"}, "likes": {"__type": "Pointer", "className": "_User", "objectId": "u2"}});
case!(or_nor, {"$or": [{"score": 1}, {"score": 2}], "$nor": [{"title": "z"}]});
case!(in_query_and_select, {
    "author": {"$inQuery": {"className": "_User", "where": {"name": "ann"}}},
    "title": {"$select": {"query": {"className": "_User", "where": {}}, "key": "name"}}
});
case!(in_query_on_an_array, {"tags": {"$inQuery": {"className": "_User", "where": {}}}});
case!(related_to, {"$relatedTo": {"object": {"__type": "Pointer", "className": "Post", "objectId": "p1"}, "key": "likes"}});
case!(near_with_max, {"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 10, "longitude": 20}, "$maxDistanceInKilometers": 5}});
case!(within_box, {"loc": {"$within": {"$box": [{"__type": "GeoPoint", "latitude": 0, "longitude": 0}, {"__type": "GeoPoint", "latitude": 1, "longitude": 1}]}}});
case!(polygon_contains, {"area": {"$geoIntersects": {"$point": {"__type": "GeoPoint", "latitude": 1, "longitude": 1}}}});
case!(unknown_field_is_null, {"nope": 1, "alsoNope": {"$exists": false}});

#[test]
fn order_by_both_dialects() {
    let s = schemas();
    let schema = s.class("Post").expect("fixture");
    let mut out = String::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let c = Compiler {
            dialect,
            schemas: &s,
            perms: None,
        };
        let mut sql = Sql::new(dialect);
        c.order_by(&schema, Some("-score,title,unknown,meta.k"), None, &mut sql)
            .expect("valid order");
        out.push_str(&format!("[{dialect:?}] {}\n", sql.text));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn aggregate_group_then_sort() {
    let s = schemas();
    let schema = s.class("Post").expect("fixture");
    let p = Pipeline::parse(&json!([
        {"$match": {"live": true}},
        {"$group": {"_id": "$title", "total": {"$sum": "$score"}, "n": {"$sum": 1}}},
        {"$sort": {"total": -1}},
        {"$limit": 3}
    ]))
    .expect("valid pipeline");
    let mut out = String::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let (sql, _) = p.compile(dialect, &s, &schema).expect("compiles");
        out.push_str(&format!("[{dialect:?}]\n{}\n\n", render(&sql)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn parse_errors_carry_parse_codes() {
    let cases = [
        (json!({"a": {"$foo": 1}}), 107),
        (json!({"$foo": 1}), 105),
        (json!({"a": {"$in": 1}}), 107),
        (json!({"a": {"$regex": "(a)\\1"}}), 102),
        (json!({"a": {"$regex": "x", "$options": "q"}}), 102),
        (json!({"$or": {}}), 102),
        (json!([1]), 105),
    ];
    for (w, code) in cases {
        assert_eq!(Filter::parse(&w).unwrap_err().code, code, "{w}");
    }
}

/// A user's query whose `title = …` was taken out of the filter: the ACL key column stands for
/// it and the read ACL together, one key per entry.
#[test]
fn keyed_acl_replaces_the_acl_test() {
    let s = schemas();
    let schema = s.class("Post").expect("fixture");
    let filter = Filter::parse(&json!({"score": {"$gte": 1}})).expect("valid where");
    let perms = vec!["*".to_string(), "u1".to_string(), "role:r".to_string()];
    let keyed = KeyedAcl {
        field: "title".into(),
        value: "hello".into(),
    };
    assert!(keyed.usable(&perms));
    let c = Compiler {
        dialect: Dialect::Postgres,
        schemas: &s,
        perms: Some(&perms),
    };
    let mut sql = Sql::new(Dialect::Postgres);
    c.where_clause_keyed(&schema, &filter, 0, Some(&keyed), &mut sql)
        .expect("compiles");
    insta::assert_snapshot!(render(&sql));
    // SQLite's keys are rows of a table of their own, looked up by key.
    let c = Compiler {
        dialect: Dialect::Sqlite,
        ..c
    };
    let mut sql = Sql::new(Dialect::Sqlite);
    c.where_clause_keyed(&schema, &filter, 0, Some(&keyed), &mut sql)
        .expect("compiles");
    insta::assert_snapshot!("keyed_acl_sqlite", render(&sql));
    // A value or an entry holding the separator could be joined two ways: not usable.
    let odd = KeyedAcl {
        field: "title".into(),
        value: "a\u{1f}b".into(),
    };
    assert!(!odd.usable(&perms));
    assert!(!keyed.usable(&["u\u{1f}x".to_string()]));
}
