use serde_json::{Map, Value, json};

use super::{CompiledFilter, matches};
use crate::filter::Filter;
use crate::schema::{ClassSchema, FieldType};

fn schema() -> ClassSchema {
    let mut s = ClassSchema::new("Thing");
    let target = || "Target".to_string();
    for (name, ty) in [
        ("s", FieldType::String),
        ("n", FieldType::Number),
        ("b", FieldType::Boolean),
        ("d", FieldType::Date),
        ("o", FieldType::Object),
        ("arr", FieldType::Array),
        ("p", FieldType::Pointer(target())),
        ("f", FieldType::File),
        ("loc", FieldType::GeoPoint),
        ("poly", FieldType::Polygon),
        ("by", FieldType::Bytes),
        ("rel", FieldType::Relation(target())),
    ] {
        s.fields.insert(name.to_string(), ty);
    }
    s
}

fn object(v: Value) -> Map<String, Value> {
    let mut o = match v {
        Value::Object(o) => o,
        _ => panic!("objects are JSON objects"),
    };
    o.entry("objectId").or_insert(json!("abc123"));
    o.entry("createdAt")
        .or_insert(json!("2024-05-01T10:00:00.000Z"));
    o.entry("updatedAt")
        .or_insert(json!("2024-05-02T10:00:00.000Z"));
    o
}

fn compiled(where_: Value) -> CompiledFilter {
    let f = Filter::parse(&where_).expect("valid where");
    CompiledFilter::new(&schema(), &f).expect("compiles")
}

/// Whether the object matches the where.
fn m(where_: Value, obj: Value) -> bool {
    compiled(where_).matches(&object(obj))
}

fn ptr(id: &str) -> Value {
    json!({"__type": "Pointer", "className": "Target", "objectId": id})
}

fn date(iso: &str) -> Value {
    json!({"__type": "Date", "iso": iso})
}

#[test]
fn equality_on_typed_fields() {
    let o = json!({"s": "apple", "n": 3, "b": true, "d": date("2020-01-01T00:00:00.000Z"), "p": ptr("t1")});
    assert!(m(json!({"s": "apple"}), o.clone()));
    assert!(!m(json!({"s": "Apple"}), o.clone()));
    assert!(m(json!({"n": 3.0}), o.clone()));
    assert!(m(json!({"n": {"$eq": 3}}), o.clone()));
    assert!(m(json!({"b": true}), o.clone()));
    assert!(!m(json!({"b": false}), o.clone()));
    assert!(m(json!({"d": date("2020-01-01T00:00:00Z")}), o.clone()));
    // A bare ISO string compares as a Date; an offset names the same instant.
    assert!(m(json!({"d": "2020-01-01T01:00:00+01:00"}), o.clone()));
    assert!(m(json!({"p": ptr("t1")}), o.clone()));
    assert!(m(json!({"p": "t1"}), o.clone()), "a bare objectId");
    assert!(!m(
        json!({"p": {"__type": "Pointer", "className": "Other", "objectId": "t1"}}),
        o.clone()
    ));
    assert!(m(json!({"objectId": "abc123"}), o.clone()));
    assert!(m(
        json!({"createdAt": {"$lt": date("2024-05-01T10:00:00.001Z")}}),
        o.clone()
    ));
    assert!(m(json!({"updatedAt": "2024-05-02T10:00:00.000Z"}), o));
}

#[test]
fn a_literal_of_the_wrong_type_matches_nothing_but_ne() {
    let o = json!({"s": "1", "n": 1, "b": true});
    assert!(!m(json!({"n": "1"}), o.clone()));
    assert!(!m(json!({"s": 1}), o.clone()));
    assert!(!m(json!({"b": 1}), o.clone()));
    assert!(!m(json!({"n": {"$lt": "9"}}), o.clone()));
    assert!(m(json!({"n": {"$ne": "1"}}), o.clone()));
    assert!(!m(json!({"n": {"$in": ["1", true]}}), o.clone()));
    assert!(m(json!({"n": {"$nin": ["1"]}}), o.clone()));
    assert!(
        !m(json!({"n": {"$nin": ["1"]}}), json!({})),
        "$nin needs the field"
    );
}

#[test]
fn missing_fields_are_null() {
    let empty = json!({});
    assert!(!m(json!({"s": "x"}), empty.clone()));
    assert!(m(json!({"s": {"$ne": "x"}}), empty.clone()));
    assert!(m(json!({"s": null}), empty.clone()));
    assert!(!m(json!({"s": {"$ne": null}}), empty.clone()));
    assert!(m(json!({"s": {"$exists": false}}), empty.clone()));
    assert!(!m(json!({"s": {"$gt": "a"}}), empty.clone()));
    // A field the schema does not know, even if the object carries it.
    let ghost = json!({"ghost": 1});
    assert!(!m(json!({"ghost": 1}), ghost.clone()));
    assert!(m(json!({"ghost": {"$ne": 1}}), ghost.clone()));
    assert!(m(json!({"ghost": {"$exists": false}}), ghost.clone()));
    assert!(!m(json!({"ghost": {"$exists": true}}), ghost.clone()));
    assert!(m(json!({"ghost": null}), ghost.clone()));
    assert!(!m(json!({"ghost": {"$in": [1]}}), ghost.clone()));
    assert!(!m(json!({"ghost": {"$nin": [1]}}), ghost.clone()));
    assert!(m(json!({"ghost": {"$nin": []}}), ghost));
    assert!(m(json!({"s": {"$ne": "x"}}), json!({"s": null})));
}

#[test]
fn ranges() {
    let o = json!({"s": "apple", "n": 5, "d": date("2021-06-01T00:00:00.000Z")});
    assert!(m(json!({"n": {"$gt": 4, "$lte": 5}}), o.clone()));
    assert!(!m(json!({"n": {"$lt": 5}}), o.clone()));
    assert!(m(json!({"n": {"$gte": 5.0}}), o.clone()));
    // By code point: "Banana" < "apple" < "b".
    assert!(m(json!({"s": {"$gt": "Banana", "$lt": "b"}}), o.clone()));
    assert!(m(
        json!({"d": {"$gt": date("2021-05-31T23:59:59.999Z")}}),
        o.clone()
    ));
    assert!(m(
        json!({"d": {"$lte": "2021-06-01T00:00:00.000Z"}}),
        o.clone()
    ));
    assert!(!m(json!({"d": {"$lt": "not a date"}}), o.clone()));
    assert!(!m(json!({"b": {"$lt": true}}), json!({"b": true})));
    assert!(m(json!({"b": {"$lt": true}}), json!({"b": false})));
    assert!(m(json!({"p": {"$gt": "a"}}), json!({"p": ptr("b")})));
}

#[test]
fn in_and_nin() {
    let o = json!({"s": "a", "n": 2, "p": ptr("t1")});
    assert!(m(json!({"s": {"$in": ["a", "b"]}}), o.clone()));
    assert!(!m(json!({"s": {"$in": []}}), o.clone()));
    assert!(!m(json!({"s": {"$in": [null]}}), json!({})), "null in $in");
    assert!(m(json!({"n": {"$in": [2.0]}}), o.clone()));
    assert!(m(json!({"p": {"$in": ["t1", ptr("t2")]}}), o.clone()));
    assert!(!m(json!({"s": {"$nin": ["a"]}}), o.clone()));
    assert!(m(json!({"s": {"$nin": ["b"]}}), o.clone()));
    assert!(!m(json!({"s": {"$nin": ["b"]}}), json!({})));
    assert!(m(json!({"s": {"$nin": []}}), json!({})));
    assert!(m(json!({"s": {"$nin": [null]}}), json!({})));
    assert!(m(json!({"s": {"$nin": [null, "b"]}}), o));
}

#[test]
fn arrays_compare_by_element_or_whole() {
    let o = json!({"arr": [1, "two", {"k": 1, "j": 2}, ptr("t1"), null]});
    assert!(m(json!({"arr": 1.0}), o.clone()));
    assert!(m(json!({"arr": "two"}), o.clone()));
    assert!(m(json!({"arr": {"j": 2, "k": 1}}), o.clone()));
    assert!(!m(json!({"arr": {"k": 1}}), o.clone()), "whole elements");
    assert!(m(json!({"arr": ptr("t1")}), o.clone()));
    assert!(!m(json!({"arr": "1"}), o.clone()));
    assert!(!m(json!({"arr": [1, "two"]}), o.clone()));
    assert!(m(json!({"arr": [1, 2]}), json!({"arr": [1.0, 2]})));
    assert!(!m(json!({"arr": [2, 1]}), json!({"arr": [1, 2]})));
    assert!(m(json!({"arr": {"$ne": [2, 1]}}), json!({"arr": [1, 2]})));
    assert!(m(json!({"arr": {"$ne": [2, 1]}}), json!({})));
    // `$ne` of an element: the array exists and lacks it (as Parse on PostgreSQL).
    assert!(!m(json!({"arr": {"$ne": 1}}), o.clone()));
    assert!(m(json!({"arr": {"$ne": 7}}), o.clone()));
    assert!(!m(json!({"arr": {"$ne": 7}}), json!({})));
    assert!(!m(json!({"arr": {"$gt": 0}}), o.clone()));
    assert!(m(json!({"arr": {"$in": [7, "two"]}}), o.clone()));
    assert!(!m(json!({"arr": {"$nin": [7, "two"]}}), o.clone()));
    assert!(m(json!({"arr": {"$nin": [7]}}), o.clone()));
    assert!(!m(json!({"arr": {"$nin": [7]}}), json!({})));
    assert!(m(json!({"arr": {"$all": [1, "two", null]}}), o.clone()));
    assert!(!m(json!({"arr": {"$all": [1, 3]}}), o.clone()));
    assert!(!m(json!({"arr": {"$all": []}}), o.clone()));
    assert!(m(
        json!({"arr": {"$containedBy": [1, 2, 3]}}),
        json!({"arr": [1, 3]})
    ));
    assert!(!m(
        json!({"arr": {"$containedBy": [1, 2]}}),
        json!({"arr": [1, 3]})
    ));
    assert!(m(json!({"arr": {"$containedBy": []}}), json!({"arr": []})));
    assert!(!m(json!({"arr": {"$containedBy": [1]}}), json!({})));
    assert!(!m(json!({"s": {"$all": ["a"]}}), json!({"s": "a"})));
}

#[test]
fn dot_paths_read_inside_objects() {
    let o = json!({"o": {"a": 5, "b": {"c": "y"}, "t": true, "z": null, "s": "5"}});
    assert!(m(json!({"o.a": 5.0}), o.clone()));
    assert!(m(json!({"o.b.c": "y"}), o.clone()));
    assert!(m(json!({"o.b": {"c": "y"}}), o.clone()));
    assert!(m(json!({"o.a": {"$gt": 4, "$lt": 6}}), o.clone()));
    assert!(m(json!({"o.t": true}), o.clone()));
    assert!(!m(json!({"o.t": 1}), o.clone()), "true is not 1");
    assert!(!m(json!({"o.s": 5}), o.clone()), "\"5\" is not 5");
    // Values of different JSON types are not ordered.
    assert!(!m(json!({"o.s": {"$lt": 9}}), o.clone()));
    assert!(!m(json!({"o.s": {"$gt": 1}}), o.clone()));
    assert!(!m(json!({"o.z": {"$lt": 9}}), o.clone()));
    assert!(m(json!({"o.s": {"$lt": "6"}}), o.clone()));
    assert!(
        m(json!({"o.z": {"$exists": true}}), o.clone()),
        "null is present"
    );
    assert!(!m(json!({"o.z": null}), o.clone()));
    assert!(m(json!({"o.q": null}), o.clone()));
    assert!(m(json!({"o.a.deeper": {"$exists": false}}), o.clone()));
    assert!(m(json!({"o.q": {"$ne": 1}}), o.clone()));
    assert!(m(json!({"o.z": {"$ne": 1}}), o.clone()));
    assert!(!m(json!({"o.a": {"$ne": 5}}), o.clone()));
    assert!(m(json!({"o.a": {"$in": [1, 5]}}), o.clone()));
    assert!(!m(json!({"o.a": {"$nin": [1, 5]}}), o.clone()));
    assert!(m(json!({"o.z": {"$nin": [1]}}), o.clone()), "null is there");
    assert!(!m(json!({"o.q": {"$nin": [1]}}), o.clone()));
    assert!(!m(json!({"o.z": {"$in": [1]}}), o.clone()));
    assert!(m(
        json!({"o.b.c": {"$regex": "^Y", "$options": "i"}}),
        o.clone()
    ));
    assert!(
        !m(json!({"o.a": {"$regex": "5"}}), o.clone()),
        "not a string"
    );
    assert!(m(
        json!({"loc.latitude": {"$gt": 10}}),
        json!({"loc": geo(20.0, 1.0)})
    ));
    // Only Object-like fields have paths.
    assert!(m(json!({"s.x": {"$ne": 1}}), json!({"s": "a"})));
    assert!(!m(json!({"s.x": {"$exists": true}}), json!({"s": "a"})));
    // An index reads an array's element, as in Parse's dot notation.
    assert!(m(json!({"arr.0": 1}), json!({"arr": [1]})));
    assert!(m(
        json!({"o.l.1.k": "v"}),
        json!({"o": {"l": [0, {"k": "v"}]}})
    ));
    assert!(!m(
        json!({"o.l.2": {"$exists": true}}),
        json!({"o": {"l": [0, 1]}})
    ));
    assert!(!m(
        json!({"o.l.k": {"$exists": true}}),
        json!({"o": {"l": [{"k": 1}]}})
    ));
}

fn geo(lat: f64, lng: f64) -> Value {
    json!({"__type": "GeoPoint", "latitude": lat, "longitude": lng})
}

#[test]
fn whole_values_compare_as_json() {
    let o = json!({"o": {"a": 1, "b": [1, 2]}, "loc": geo(1.0, 2.0), "by": {"__type": "Bytes", "base64": "AQ=="}});
    assert!(m(json!({"o": {"b": [1, 2.0], "a": 1}}), o.clone()));
    assert!(!m(json!({"o": {"a": 1}}), o.clone()));
    assert!(m(json!({"o": {"$ne": {"a": 1}}}), o.clone()));
    assert!(m(json!({"o": {"$ne": {"a": 1}}}), json!({})));
    assert!(!m(json!({"o": {"$gt": {"a": 1}}}), o.clone()));
    assert!(m(json!({"loc": geo(1.0, 2.0)}), o.clone()));
    assert!(m(
        json!({"by": {"$in": [{"__type": "Bytes", "base64": "AQ=="}]}}),
        o.clone()
    ));
    assert!(!m(
        json!({"by": {"$nin": [{"__type": "Bytes", "base64": "AQ=="}]}}),
        o
    ));
}

#[test]
fn files_compare_by_name() {
    let f = json!({"f": {"__type": "File", "name": "a.txt", "url": "http://x/files/app/a.txt"}});
    assert!(m(json!({"f": "a.txt"}), f.clone()));
    assert!(m(
        json!({"f": {"__type": "File", "name": "a.txt"}}),
        f.clone()
    ));
    assert!(!m(json!({"f": {"$ne": "a.txt"}}), f.clone()));
    assert!(m(json!({"f": {"$ne": "b.txt"}}), f.clone()));
    // `$ne` matches an object without the field, as everywhere else.
    assert!(m(json!({"f": {"$ne": "b.txt"}}), json!({})));
    assert!(!m(json!({"f": {"$gt": "a"}}), f.clone()));
    // The database holds no url: whole values and paths compare without it.
    assert!(m(
        json!({"f": {"$in": [{"__type": "File", "name": "a.txt"}]}}),
        f.clone()
    ));
    assert!(!m(
        json!({"f": {"$in": [{"__type": "File", "name": "a.txt", "url": "http://x/files/app/a.txt"}]}}),
        f.clone()
    ));
    assert!(m(json!({"f.name": "a.txt"}), f.clone()));
    assert!(m(json!({"f.url": {"$exists": false}}), f));
}

#[test]
fn perms_come_from_the_acl() {
    let acl = json!({"ACL": {"*": {"read": true}, "u1": {"read": true, "write": true}, "role:r": {"write": true}}});
    let none = json!({});
    assert!(m(json!({"_rperm": "u1"}), acl.clone()));
    assert!(!m(json!({"_rperm": "role:r"}), acl.clone()));
    assert!(m(json!({"_wperm": "role:r"}), acl.clone()));
    assert!(!m(json!({"_wperm": "*"}), acl.clone()));
    assert!(m(json!({"_rperm": {"$in": ["x", "*"]}}), acl.clone()));
    assert!(!m(json!({"_rperm": {"$nin": ["x", "*"]}}), acl.clone()));
    assert!(m(json!({"_rperm": {"$nin": ["x"]}}), acl.clone()));
    assert!(m(json!({"_rperm": {"$exists": true}}), acl.clone()));
    // Without an ACL the object is public: it holds `*` and nothing else.
    assert!(m(json!({"_rperm": "*"}), none.clone()));
    assert!(!m(json!({"_rperm": "u1"}), none.clone()));
    assert!(m(json!({"_rperm": {"$exists": false}}), none.clone()));
    assert!(!m(json!({"_rperm": {"$nin": ["x"]}}), none.clone()));
    assert!(!m(json!({"_rperm": "*"}), json!({"ACL": {}})));
    for bad in [json!({"_rperm": {"$ne": "x"}}), json!({"_wperm": 1})] {
        let f = Filter::parse(&bad).expect("parses");
        let err = CompiledFilter::new(&schema(), &f).expect_err("refused as by the SQL path");
        assert_eq!(err.code, 105);
    }
}

#[test]
fn regex_options() {
    let o = json!({"s": "Hello\nworld  x"});
    assert!(m(
        json!({"s": {"$regex": "^hello", "$options": "i"}}),
        o.clone()
    ));
    assert!(!m(json!({"s": {"$regex": "^hello"}}), o.clone()));
    assert!(!m(json!({"s": {"$regex": "^world"}}), o.clone()));
    assert!(m(
        json!({"s": {"$regex": "^world", "$options": "m"}}),
        o.clone()
    ));
    assert!(m(
        json!({"s": {"$regex": "w o r l d", "$options": "x"}}),
        o.clone()
    ));
    // `.` crosses a newline with or without `s`, as on PostgreSQL.
    assert!(m(json!({"s": {"$regex": "Hello.world"}}), o.clone()));
    assert!(m(
        json!({"s": {"$regex": "Hello.world", "$options": "s"}}),
        o.clone()
    ));
    assert!(m(json!({"s": {"$regex": "\\Qd  x\\E$"}}), o.clone()));
    assert!(!m(json!({"n": {"$regex": "1"}}), json!({"n": 1})));
    assert!(!m(json!({"p": {"$regex": "t"}}), json!({"p": ptr("t1")})));
    assert!(!m(json!({"s": {"$regex": "."}}), json!({})));
}

#[test]
fn a_regex_too_large_to_compile_is_refused_as_postgresql_refuses_it() {
    let f = Filter::parse(&json!({"s": {"$regex": "\\w{1000}"}})).expect("passes the cost check");
    let err = CompiledFilter::new(&schema(), &f).expect_err("over the size limit");
    assert_eq!(
        (err.code, err.message.as_str()),
        (102, "Invalid regular expression.")
    );
    // On a field that is not text the SQL never runs the pattern, and neither does this.
    let f = Filter::parse(&json!({"n": {"$regex": "\\w{1000}"}})).expect("parses");
    assert!(CompiledFilter::new(&schema(), &f).is_ok());
}

#[test]
fn nor_treats_null_as_false_before_negating() {
    let empty = json!({});
    assert!(m(json!({"$nor": [{"n": {"$gt": 5}}]}), empty.clone()));
    assert!(!m(json!({"$nor": [{"n": {"$ne": 5}}]}), empty.clone()));
    assert!(m(json!({"$nor": [{"n": {"$gt": 5}}]}), json!({"n": 1})));
    assert!(!m(
        json!({"$nor": [{"n": {"$gt": 5}}, {"s": "a"}]}),
        json!({"s": "a"})
    ));
    assert!(m(
        json!({"$nor": [{"$nor": [{"n": {"$gt": 5}}]}]}),
        json!({"n": 6})
    ));
    assert!(m(
        json!({"$or": [{"n": 1}, {"s": "a"}], "b": true}),
        json!({"s": "a", "b": true})
    ));
    assert!(!m(
        json!({"$and": [{"n": 1}, {"s": "a"}]}),
        json!({"s": "a"})
    ));
    assert!(m(json!({}), empty));
}

#[test]
fn geo_queries() {
    let o = json!({"loc": geo(0.0, 0.0), "poly": {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]}});
    let sf = json!({"__type": "GeoPoint", "latitude": 0.0, "longitude": 1.0});
    assert!(m(json!({"loc": {"$nearSphere": sf}}), o.clone()));
    assert!(!m(json!({"loc": {"$nearSphere": sf}}), json!({})));
    // One degree of longitude on the equator is 0.01745 radians.
    assert!(m(
        json!({"loc": {"$nearSphere": sf, "$maxDistance": 0.018}}),
        o.clone()
    ));
    assert!(!m(
        json!({"loc": {"$nearSphere": sf, "$maxDistance": 0.017}}),
        o.clone()
    ));
    assert!(m(
        json!({"loc": {"$nearSphere": sf, "$maxDistanceInKilometers": 112}}),
        o.clone()
    ));
    assert!(m(
        json!({"loc": {"$geoWithin": {"$centerSphere": [[1.0, 0.0], 0.018]}}}),
        o.clone()
    ));
    assert!(m(
        json!({"loc": {"$within": {"$box": [geo(-1.0, -1.0), geo(0.0, 0.0)]}}}),
        o.clone()
    ));
    assert!(!m(
        json!({"loc": {"$within": {"$box": [geo(0.5, -1.0), geo(1.0, 1.0)]}}}),
        o.clone()
    ));
    let square = json!([
        geo(-1.0, -1.0),
        geo(-1.0, 1.0),
        geo(1.0, 1.0),
        geo(1.0, -1.0)
    ]);
    assert!(m(
        json!({"loc": {"$geoWithin": {"$polygon": square}}}),
        o.clone()
    ));
    let beside = json!([geo(0.0, 0.0), geo(0.0, 1.0), geo(1.0, 1.0), geo(1.0, 0.0)]);
    assert!(
        m(
            json!({"loc": {"$geoWithin": {"$polygon": beside}}}),
            o.clone()
        ),
        "a vertex is on an edge"
    );
    let away = json!([geo(5.0, 5.0), geo(5.0, 6.0), geo(6.0, 6.0)]);
    assert!(!m(
        json!({"loc": {"$geoWithin": {"$polygon": away}}}),
        o.clone()
    ));
    assert!(m(
        json!({"poly": {"$geoIntersects": {"$point": geo(5.0, 5.0)}}}),
        o.clone()
    ));
    assert!(m(
        json!({"poly": {"$geoIntersects": {"$point": geo(10.0, 5.0)}}}),
        o.clone()
    ));
    assert!(!m(
        json!({"poly": {"$geoIntersects": {"$point": geo(11.0, 5.0)}}}),
        o.clone()
    ));
    assert!(!m(
        json!({"poly": {"$geoIntersects": {"$point": geo(1.0, 1.0)}}}),
        json!({})
    ));
    // Geo operators on a field of another type match nothing.
    assert!(!m(json!({"poly": {"$nearSphere": sf}}), o.clone()));
    assert!(!m(
        json!({"loc": {"$geoIntersects": {"$point": geo(0.0, 0.0)}}}),
        o
    ));
}

#[test]
fn sub_queries_and_relations_need_the_database() {
    let cases = [
        json!({"p": {"$inQuery": {"className": "Target", "where": {}}}}),
        json!({"p": {"$notInQuery": {"className": "Target", "where": {}}}}),
        json!({"s": {"$select": {"query": {"className": "Target", "where": {}}, "key": "s"}}}),
        json!({"s": {"$dontSelect": {"query": {"className": "Target", "where": {}}, "key": "s"}}}),
        json!({"$relatedTo": {"object": ptr("t1"), "key": "rel"}}),
    ];
    for w in cases {
        let f = Filter::parse(&w).expect("parses");
        assert!(f.needs_database(), "{w}");
        let c = CompiledFilter::new(&schema(), &f).expect("compiles");
        assert!(c.needs_database(), "{w}");
        assert!(
            !c.matches(&object(json!({"p": ptr("t1"), "s": "a"}))),
            "{w}"
        );
        let nor = Filter::Nor(vec![f]);
        assert!(nor.needs_database());
        let c = CompiledFilter::new(&schema(), &nor).expect("compiles");
        assert!(c.matches(&object(json!({}))), "false under $nor: {w}");
    }
    // Only the schema knows `rel` is a Relation.
    let f = Filter::parse(&json!({"rel": ptr("t1")})).expect("parses");
    assert!(!f.needs_database());
    let c = CompiledFilter::new(&schema(), &f).expect("compiles");
    assert!(c.needs_database());
    assert!(!c.matches(&object(json!({}))));
    for (w, expected) in [
        (json!({"rel": {"$exists": true}}), true),
        (json!({"rel": {"$exists": false}}), false),
        (json!({"rel": "t1"}), false),
        (json!({"rel": {"$nin": ["t1"]}}), true),
    ] {
        let c = compiled(w.clone());
        assert!(!c.needs_database(), "{w}");
        assert_eq!(c.matches(&object(json!({}))), expected, "{w}");
    }
    assert!(
        !Filter::parse(&json!({"s": "a", "$or": [{"n": 1}]}))
            .expect("parses")
            .needs_database()
    );
}

#[test]
fn the_one_shot_function_agrees_and_refuses_what_cannot_compile() {
    let s = schema();
    let o = object(json!({"s": "a"}));
    let f = Filter::parse(&json!({"s": {"$in": ["a"]}})).expect("parses");
    assert!(matches(&s, &f, &o));
    let f = Filter::parse(&json!({"_rperm": {"$gt": "a"}})).expect("parses");
    assert!(!matches(&s, &f, &o));
}

/// Objects the server would never send still get an answer, never a panic.
#[test]
fn malformed_objects_do_not_panic() {
    let weird = [
        json!({"s": 1, "n": "x", "b": "yes", "d": "garbage", "p": "t1", "arr": "x"}),
        json!({"o": 5, "loc": 5, "poly": {"coordinates": [[1], [2, "x"], null]}, "ACL": 7}),
        json!({"poly": {"coordinates": []}, "loc": {"latitude": "a"}, "f": 3, "ACL": {"u": 1}}),
        json!({"d": {"__type": "Date"}, "by": [], "arr": [[], {}, null], "o": {"a": {"b": []}}}),
    ];
    let wheres = [
        json!({"s": "a", "n": {"$gt": 1}, "b": true, "d": {"$lt": "2020-01-01T00:00:00Z"}}),
        json!({"p": "t1", "arr": {"$all": [1]}, "o.a.b": 1, "f": "x", "by": {"$ne": 1}}),
        json!({"loc": {"$nearSphere": geo(0.0, 0.0), "$maxDistance": 1}}),
        json!({"poly": {"$geoIntersects": {"$point": geo(0.0, 0.0)}}}),
        json!({"loc": {"$geoWithin": {"$polygon": [geo(0.0, 0.0), geo(0.0, 0.0), geo(0.0, 0.0)]}}}),
        json!({"_rperm": {"$in": ["*"]}, "_wperm": {"$nin": ["u"]}, "s": {"$regex": "a"}}),
        json!({"arr": {"$containedBy": []}, "o": {"$in": [{}]}, "f": {"$in": [{}]}}),
    ];
    for o in &weird {
        for w in &wheres {
            let _ = m(w.clone(), o.clone());
            let _ = m(json!({"$nor": [w]}), o.clone());
        }
    }
}
