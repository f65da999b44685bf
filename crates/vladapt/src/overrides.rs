//! `--set key=value` overrides of a configuration: dotted paths into its JSON form
//! (`train.batch_size=8`, `train.lr.rest=3e-4`, `train.grad_clip=null`). Values are parsed as
//! JSON when possible, else taken as strings. Used by the CLIP run configuration and the
//! grounding run configuration.
use crate::{Result, VladaptError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Split one `--set` argument at its first `=`: `(key, value)`.
pub fn split(set: &str) -> Result<(&str, &str)> {
    set.split_once('=')
        .ok_or_else(|| VladaptError::argument(format!("--set {set}"), "expected key=value"))
}

/// `config` with every `(key, value)` of `sets` applied. A key that names no field is an
/// [`UnknownName`](VladaptError::UnknownName) (`kind` = `"configuration key"`, with the keys of
/// its table); a value of the wrong type an [`Argument`](VladaptError::Argument) error on
/// `--set`. The result is not validated: the caller runs its own `validate`.
pub fn apply<T: Serialize + DeserializeOwned>(config: &T, sets: &[(&str, &str)]) -> Result<T> {
    let mut v = serde_json::to_value(config)
        .map_err(|e| VladaptError::serialize("the configuration", e))?;
    for (key, val) in sets {
        let parsed: serde_json::Value = serde_json::from_str(val)
            .unwrap_or_else(|_| serde_json::Value::String(val.to_string()));
        let parts: Vec<&str> = key.split('.').collect();
        let mut cur = &mut v;
        for (i, part) in parts.iter().enumerate() {
            let obj = cur.as_object_mut().ok_or_else(|| {
                VladaptError::argument(
                    format!("--set {key}"),
                    format!("`{part}` is not inside a table"),
                )
            })?;
            if !obj.contains_key(*part) {
                return Err(VladaptError::unknown_name(
                    "configuration key",
                    *key,
                    obj.keys().map(|k| {
                        let prefix = &parts[..i];
                        if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{}.{k}", prefix.join("."))
                        }
                    }),
                ));
            }
            if i + 1 == parts.len() {
                obj.insert(part.to_string(), parsed.clone());
                break;
            }
            cur = obj.get_mut(*part).expect("checked above");
        }
    }
    serde_json::from_value(v).map_err(|e| VladaptError::argument("--set", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Inner {
        lr: f64,
        clip: Option<f64>,
    }
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Outer {
        name: String,
        train: Inner,
    }

    fn outer() -> Outer {
        Outer {
            name: "a".into(),
            train: Inner {
                lr: 1.0,
                clip: None,
            },
        }
    }

    #[test]
    fn sets_nested_values_parsed_as_json_or_taken_as_strings() {
        let o = apply(
            &outer(),
            &[("train.lr", "0.5"), ("train.clip", "2"), ("name", "b c")],
        )
        .unwrap();
        assert_eq!(
            o,
            Outer {
                name: "b c".into(),
                train: Inner {
                    lr: 0.5,
                    clip: Some(2.0)
                }
            }
        );
        assert_eq!(split("a.b=c=d").unwrap(), ("a.b", "c=d"));
    }

    #[test]
    fn bad_keys_and_values_are_typed_errors() {
        match apply(&outer(), &[("train.lrr", "1")]) {
            Err(VladaptError::UnknownName { kind, name, known }) => {
                assert_eq!((kind, name.as_str()), ("configuration key", "train.lrr"));
                let mut known = known;
                known.sort();
                assert_eq!(known, ["train.clip", "train.lr"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            apply(&outer(), &[("name.x", "1")]),
            Err(VladaptError::Argument { name, .. }) if name == "--set name.x"
        ));
        assert!(matches!(
            apply(&outer(), &[("train.lr", "fast")]),
            Err(VladaptError::Argument { name, .. }) if name == "--set"
        ));
        assert!(matches!(
            split("train.lr"),
            Err(VladaptError::Argument { name, .. }) if name == "--set train.lr"
        ));
    }
}
