use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::*;

/// A byte buffer serialized with `serialize_bytes`, like `serde_bytes::ByteBuf`.
#[derive(Debug, PartialEq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    size: u64,
    data: Blob,
    thumbs: Vec<Blob>,
    raw: Vec<u8>,
    meta: Option<BTreeMap<String, i32>>,
    kind: Kind,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Kind {
    Plain,
    Tagged(String),
    Pair(u8, bool),
    Rich { level: i8 },
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn json_round_trip_keeps_key_order() {
    let text = r#"{"z":1,"a":[true,null,"x",-2,0.5],"m":{"b":{},"a":[]}}"#;
    let v = json(text);
    assert_eq!(v.to_string(), text);
    assert_eq!(serde_json::to_string(&v).unwrap(), text);
    assert_eq!(v.get("a").and_then(Value::as_array).map(Vec::len), Some(5));
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn typed_struct_with_binary_fields_round_trips() {
    let upload = Upload {
        name: "photo.png".into(),
        size: u64::MAX,
        data: Blob(vec![1, 2, 3]),
        thumbs: vec![Blob(vec![]), Blob(vec![0xff])],
        raw: vec![9, 8],
        meta: Some(BTreeMap::from([("w".to_owned(), -640)])),
        kind: Kind::Rich { level: -3 },
    };
    let v = to_value(&upload).unwrap();
    assert_eq!(
        v.get("data"),
        Some(&Value::Binary(Bytes::from_static(&[1, 2, 3])))
    );
    assert_eq!(
        v.get("thumbs").unwrap().as_array().unwrap()[1],
        Value::from(vec![0xffu8])
    );
    // A plain `Vec<u8>` follows serde's model: a sequence of numbers.
    assert_eq!(v.get("raw"), Some(&json("[9,8]")));
    assert!(v.has_binary());
    assert_eq!(v.get("size").and_then(Value::as_u64), Some(u64::MAX));
    let back: Upload = from_value(v.clone()).unwrap();
    assert_eq!(back, upload);
    assert_eq!(v.deserialize_into::<Upload>().unwrap(), upload);
}

#[test]
fn binary_reads_as_vec_u8_and_arrays_as_bytes() {
    let v = Value::Binary(Bytes::from_static(b"abc"));
    assert_eq!(from_value::<Vec<u8>>(v.clone()).unwrap(), b"abc");
    assert_eq!(from_value::<[u8; 3]>(v.clone()).unwrap(), *b"abc");
    assert_eq!(from_value::<Blob>(v).unwrap(), Blob(b"abc".to_vec()));
    // Serde's byte-buffer visitors also accept a sequence; ours does not.
    assert!(from_value::<Blob>(json("[1,2]")).is_err());
    assert!(from_value::<[u8; 2]>(Value::from(vec![1u8, 2, 3])).is_err());
}

#[test]
fn enums_are_externally_tagged() {
    for (kind, text) in [
        (Kind::Plain, r#""Plain""#),
        (Kind::Tagged("x".into()), r#"{"Tagged":"x"}"#),
        (Kind::Pair(7, true), r#"{"Pair":[7,true]}"#),
        (Kind::Rich { level: 1 }, r#"{"Rich":{"level":1}}"#),
    ] {
        let v = to_value(&kind).unwrap();
        assert_eq!(v, json(text));
        assert_eq!(from_value::<Kind>(v).unwrap(), kind);
    }
    assert!(from_value::<Kind>(json(r#"{"Plain":1}"#)).is_err());
    assert!(from_value::<Kind>(json(r#"{"Tagged":"x","Pair":[1,true]}"#)).is_err());
    assert!(from_value::<Kind>(json(r#""Nope""#)).is_err());
    assert!(from_value::<Kind>(json("3")).is_err());
}

#[test]
fn number_edge_cases() {
    assert_eq!(to_value(&u64::MAX).unwrap().as_u64(), Some(u64::MAX));
    assert_eq!(to_value(&i64::MIN).unwrap().as_i64(), Some(i64::MIN));
    assert_eq!(to_value(&-1i8).unwrap().as_i64(), Some(-1));
    assert_eq!(to_value(&1.5f32).unwrap().as_f64(), Some(1.5));
    assert_eq!(to_value(&f64::NAN).unwrap(), Value::Null);
    assert_eq!(to_value(&f64::INFINITY).unwrap(), Value::Null);
    assert_eq!(
        to_value(&(u64::MAX as u128)).unwrap().as_u64(),
        Some(u64::MAX)
    );
    assert_eq!(to_value(&(-5i128)).unwrap().as_i64(), Some(-5));
    assert!(matches!(
        to_value(&(u128::MAX)),
        Err(ValueError::IntegerOutOfRange(_))
    ));
    assert!(matches!(
        to_value(&i128::MIN),
        Err(ValueError::IntegerOutOfRange(_))
    ));

    assert_eq!(from_value::<u64>(Value::from(u64::MAX)).unwrap(), u64::MAX);
    assert_eq!(from_value::<i64>(Value::from(i64::MIN)).unwrap(), i64::MIN);
    assert_eq!(from_value::<f64>(Value::from(3)).unwrap(), 3.0);
    assert_eq!(from_value::<f32>(Value::from(0.25)).unwrap(), 0.25);
    assert!(from_value::<u8>(Value::from(256)).is_err());
    assert!(from_value::<u32>(Value::from(-1)).is_err());
    assert!(from_value::<i64>(Value::from(u64::MAX)).is_err());
    assert!(from_value::<u64>(Value::from(1.5)).is_err());
    assert_eq!(json("18446744073709551615").as_u64(), Some(u64::MAX));
    assert_eq!(json("-9223372036854775808").as_i64(), Some(i64::MIN));
    // Beyond 64 bits JSON numbers become floats, as in JavaScript.
    assert_eq!(
        json("18446744073709551616").as_f64(),
        Some(18446744073709551616.0)
    );
    assert_eq!(Value::from(-0.5).as_f64(), Some(-0.5));
    assert_eq!(Value::from(f64::NEG_INFINITY), Value::Null);
    assert_eq!(Value::from(7u32).as_u64(), Some(7));
    assert_eq!(Value::from(7usize).as_i64(), Some(7));
    assert_eq!(Value::from(-7i32).as_u64(), None);
}

#[test]
fn typed_containers() {
    let v = json(r#"{"1":"a","20":"b"}"#);
    let m: HashMap<u32, String> = from_value(v.clone()).unwrap();
    assert_eq!(m[&20], "b");
    let m: BTreeMap<u32, String> = from_value(v).unwrap();
    assert_eq!(to_value(&m).unwrap(), json(r#"{"1":"a","20":"b"}"#));
    assert_eq!(
        to_value(&HashMap::from([(true, 1)])).unwrap(),
        json(r#"{"true":1}"#)
    );
    assert_eq!(
        to_value(&BTreeMap::from([('c', 1)])).unwrap(),
        json(r#"{"c":1}"#)
    );
    assert!(matches!(
        to_value(&HashMap::from([((1, 2), 3)])),
        Err(ValueError::InvalidKey(_))
    ));
    let t: (u8, String, Option<bool>, ()) = from_value(json(r#"[1,"x",null,null]"#)).unwrap();
    assert_eq!(t, (1, "x".into(), None, ()));
    assert!(from_value::<(u8, u8)>(json("[1,2,3]")).is_err());
    assert_eq!(to_value(&(1, "x")).unwrap(), json(r#"[1,"x"]"#));
    assert_eq!(to_value(&Some(())).unwrap(), Value::Null);
    assert_eq!(
        from_value::<Value>(json(r#"{"a":[1]}"#)).unwrap(),
        json(r#"{"a":[1]}"#)
    );
    let b = Value::Binary(Bytes::from_static(&[1]));
    assert_eq!(from_value::<Value>(b.clone()).unwrap(), b);
    assert_eq!(to_value(&b).unwrap(), b);
    assert_eq!(
        from_value::<serde_json::Value>(json(r#"{"a":[1,"x"]}"#)).unwrap(),
        serde_json::json!({"a": [1, "x"]})
    );
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    a: u8,
    #[serde(default)]
    b: Option<String>,
}

#[test]
fn typed_errors_are_reported() {
    assert!(from_value::<Strict>(json(r#"{"b":"x"}"#)).is_err());
    assert!(from_value::<Strict>(json(r#"{"a":1,"c":2}"#)).is_err());
    assert_eq!(
        from_value::<Strict>(json(r#"{"a":1}"#)).unwrap(),
        Strict { a: 1, b: None }
    );
    assert_eq!(
        from_value::<Strict>(json("[2]")).unwrap(),
        Strict { a: 2, b: None }
    );
    let err = from_value::<String>(json("1")).unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[test]
fn msgpack_via_serde_gives_binary_and_stringified_keys() {
    // bin 8 [5] → Binary; {1: true, nil: 2} → {"1": true, "null": 2}
    let v: Value = rmp_serde::from_slice(&[0xc4, 0x01, 0x05]).unwrap();
    assert_eq!(v, Value::Binary(Bytes::from_static(&[5])));
    let v: Value = rmp_serde::from_slice(&[0x82, 0x01, 0xc3, 0xc0, 0x02]).unwrap();
    assert_eq!(v, json(r#"{"1":true,"null":2}"#));
    assert!(rmp_serde::from_slice::<Value>(&[0x81, 0x90, 0x01]).is_err());
    let bytes = rmp_serde::to_vec(&Value::Binary(Bytes::from_static(&[7]))).unwrap();
    assert_eq!(bytes, [0xc4, 0x01, 0x07]);
}

#[test]
fn conveniences() {
    let mut v = json(r#"{"s":"x","b":true,"n":-2,"f":2.5,"a":[1],"o":{"k":null}}"#);
    assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
    assert_eq!(v.get("b").and_then(Value::as_bool), Some(true));
    assert_eq!(v.get("n").and_then(Value::as_i64), Some(-2));
    assert_eq!(v.get("n").and_then(Value::as_u64), None);
    assert_eq!(v.get("f").and_then(Value::as_f64), Some(2.5));
    assert_eq!(
        v.get("o").and_then(|o| o.get("k")).map(Value::is_null),
        Some(true)
    );
    assert_eq!(v.get("missing"), None);
    assert_eq!(Value::from("x").get("s"), None);
    assert!(!v.has_binary());
    v.as_object_mut().unwrap()["o"].as_object_mut().unwrap()["k"] = Bytes::from_static(b"z").into();
    assert!(v.has_binary());
    v.as_object_mut().unwrap()["a"]
        .as_array_mut()
        .unwrap()
        .push(Value::from(vec![0u8]));
    assert_eq!(v.get("a").unwrap().as_array().unwrap().len(), 2);
    let taken = v.get("a").cloned().map(|mut a| a.take());
    assert!(taken.is_some());

    assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
    assert_eq!(Value::from(Some(1)), Value::from(1));
    assert_eq!(Value::from(None::<i32>), Value::Null);
    assert_eq!(Value::from(vec![Value::Null]), json("[null]"));
    assert_eq!(Value::from(Map::default()), json("{}"));
    let collected: Value = vec![("a", Value::from(1))].into_iter().collect();
    assert_eq!(collected, json(r#"{"a":1}"#));
    assert_eq!(
        Value::from(serde_json::json!({"x": [1, null]})),
        json(r#"{"x":[1,null]}"#)
    );

    // Binary as JSON: an array of byte values.
    let with_bin = Value::Array(vec![Bytes::from_static(&[1, 255]).into(), "é".into()]);
    assert_eq!(
        serde_json::Value::from(with_bin.clone()),
        serde_json::json!([[1, 255], "é"])
    );
    assert_eq!(with_bin.to_string(), r#"[[1,255],"é"]"#);
    assert_eq!(format!("{:#}", json("[1]")), "[\n  1\n]");
}
