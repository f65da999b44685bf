//! The one reader of class lists: `classnames.txt` beside a dataset, `--classes-file` /
//! `--classnames` of the CLI, and comma-separated lists given on the command line or in a
//! request.
//!
//! Policy, the same everywhere:
//! - a UTF-8 byte-order mark at the start is dropped; lines end in `\n` or `\r\n`;
//! - each name is trimmed of surrounding whitespace;
//! - blank lines at the end of a file are ignored; a blank line *between* names is an error
//!   (in a label-ordered file it would silently shift every later name to the wrong label);
//! - an empty list is an error, and so is a name given twice (the two would split the
//!   probability between them without a word), naming both lines.
//!
//! Keyed lists (`wnid class name`, `folder class name`) follow the same policy, with the key
//! (first word) as what must be unique.
use crate::DataError;
use std::collections::HashMap;
use std::path::Path;

fn error(origin: &str, reason: impl Into<String>) -> DataError {
    DataError::ClassList {
        origin: origin.to_string(),
        reason: reason.into(),
    }
}

/// The non-blank lines of `text` with their 1-based line numbers, after the policy above
/// (BOM dropped, trimmed, trailing blank lines ignored, interior blank lines refused).
fn lines<'a>(text: &'a str, origin: &str) -> Result<Vec<(usize, &'a str)>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let all: Vec<&str> = text.lines().map(str::trim).collect();
    let end = all.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(end);
    for (i, l) in all[..end].iter().enumerate() {
        if l.is_empty() {
            return Err(error(
                origin,
                format!(
                    "line {} is blank: give one class name per line with no gaps (a gap would \
                     shift every later name to the wrong label)",
                    i + 1
                ),
            ));
        }
        out.push((i + 1, *l));
    }
    if out.is_empty() {
        return Err(error(origin, "the class list is empty"));
    }
    Ok(out)
}

/// `what` (`class name`, `key`) must be unique over `items` (position, text); positions are
/// `unit`s (`lines`, `entries`).
fn refuse_duplicates<'a>(
    items: impl Iterator<Item = (usize, &'a str)>,
    origin: &str,
    what: &str,
    unit: &str,
) -> Result<(), DataError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (at, name) in items {
        if let Some(first) = seen.insert(name, at) {
            return Err(error(
                origin,
                format!("{what} {name:?} is given twice ({unit} {first} and {at}); {what}s must be unique"),
            ));
        }
    }
    Ok(())
}

/// Class names of `text`, one per line (see the module policy). `origin` names the file or
/// argument in errors.
pub fn parse_class_list(text: &str, origin: &str) -> Result<Vec<String>, DataError> {
    let lines = lines(text, origin)?;
    refuse_duplicates(
        lines.iter().map(|&(i, l)| (i, l)),
        origin,
        "class name",
        "lines",
    )?;
    Ok(lines.into_iter().map(|(_, l)| l.to_string()).collect())
}

/// Read a class-list file (one name per line; see the module policy).
pub fn read_class_list(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
    parse_class_list(&text, &path.display().to_string())
}

/// Class names separated by commas (`--classes "cat,dog"`, a request's `classes` field):
/// trimmed, empty entries dropped, then refused when empty or holding a duplicate.
pub fn parse_class_csv(list: &str, origin: &str) -> Result<Vec<String>, DataError> {
    let names: Vec<String> = list
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    check_class_names(names, origin)
}

/// Refuse an empty list, blank names and duplicates in a list built elsewhere (a JSON array);
/// a byte-order mark on the first name is dropped and names are trimmed.
pub fn check_class_names(names: Vec<String>, origin: &str) -> Result<Vec<String>, DataError> {
    let mut names: Vec<String> = names.into_iter().map(|s| s.trim().to_string()).collect();
    if let Some(first) = names.first_mut() {
        if let Some(rest) = first.strip_prefix('\u{feff}') {
            *first = rest.trim().to_string();
        }
    }
    if names.is_empty() {
        return Err(error(origin, "the class list is empty"));
    }
    if let Some(i) = names.iter().position(|n| n.is_empty()) {
        return Err(error(origin, format!("entry {} is blank", i + 1)));
    }
    refuse_duplicates(
        names.iter().enumerate().map(|(i, n)| (i + 1, n.as_str())),
        origin,
        "class name",
        "entries",
    )?;
    Ok(names)
}

/// One line of a keyed class list: the key (first word), the rest of the line (`None` when
/// the line is the key alone) and the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedClass {
    /// First word (`n01440764`, a folder name).
    pub key: String,
    /// The class name after it, trimmed.
    pub name: Option<String>,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Read a keyed class list (`key class name words` per line; see the module policy; keys
/// must be unique).
pub fn read_keyed_class_list(path: &Path) -> Result<Vec<KeyedClass>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
    parse_keyed_class_list(&text, &path.display().to_string())
}

/// [`read_keyed_class_list`] on text.
pub fn parse_keyed_class_list(text: &str, origin: &str) -> Result<Vec<KeyedClass>, DataError> {
    let lines = lines(text, origin)?;
    let out: Vec<KeyedClass> = lines
        .iter()
        .map(|&(line, l)| {
            let (key, name) = match l.split_once(char::is_whitespace) {
                Some((k, n)) => (k, Some(n.trim().to_string())),
                None => (l, None),
            };
            KeyedClass {
                key: key.to_string(),
                name,
                line,
            }
        })
        .collect();
    refuse_duplicates(
        out.iter().map(|k| (k.line, k.key.as_str())),
        origin,
        "key",
        "lines",
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: DataError) -> String {
        match e {
            DataError::ClassList { origin, reason } => {
                assert_eq!(origin, "names.txt");
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bom_crlf_whitespace_and_trailing_blank_lines_are_tolerated() {
        let v =
            parse_class_list("\u{feff}cat\r\n  sea lion \r\ndog\r\n\r\n\n", "names.txt").unwrap();
        assert_eq!(v, ["cat", "sea lion", "dog"]);
        assert_eq!(parse_class_list("a", "x").unwrap(), ["a"]);
    }

    #[test]
    fn empty_lists_interior_blank_lines_and_duplicates_are_refused_by_line() {
        for text in ["", "\n\n", "\u{feff}", "  \r\n"] {
            let r = reason(parse_class_list(text, "names.txt").unwrap_err());
            assert_eq!(r, "the class list is empty", "{text:?}");
        }
        let r = reason(parse_class_list("cat\n\ndog\n", "names.txt").unwrap_err());
        assert!(r.starts_with("line 2 is blank"), "{r}");
        let r = reason(parse_class_list("cat\ndog\r\n cat\n", "names.txt").unwrap_err());
        assert!(
            r.contains("class name \"cat\" is given twice (lines 1 and 3)"),
            "{r}"
        );
        // Case differs: two names.
        assert_eq!(parse_class_list("Cat\ncat", "x").unwrap().len(), 2);
    }

    #[test]
    fn comma_lists_and_built_lists_follow_the_same_rules() {
        assert_eq!(
            parse_class_csv(" cat, dog ,,bee", "--classes").unwrap(),
            ["cat", "dog", "bee"]
        );
        assert!(matches!(
            parse_class_csv(" , ", "--classes"),
            Err(DataError::ClassList { origin, reason }) if origin == "--classes" && reason == "the class list is empty"
        ));
        let e = parse_class_csv("cat,dog,cat", "--classes")
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice (entries 1 and 3)"), "{e}");
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_class_names(v(&["\u{feff}cat", "dog"]), "x").unwrap(),
            ["cat", "dog"]
        );
        let e = check_class_names(v(&["cat", " "]), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("entry 2 is blank"), "{e}");
        assert!(check_class_names(vec![], "x").is_err());
    }

    #[test]
    fn keyed_lists_split_the_first_word_and_refuse_duplicate_keys() {
        let v = parse_keyed_class_list("\u{feff}n01 tench\r\nn02  great white shark\nn03\n", "x")
            .unwrap();
        assert_eq!(
            v,
            [
                KeyedClass {
                    key: "n01".into(),
                    name: Some("tench".into()),
                    line: 1
                },
                KeyedClass {
                    key: "n02".into(),
                    name: Some("great white shark".into()),
                    line: 2
                },
                KeyedClass {
                    key: "n03".into(),
                    name: None,
                    line: 3
                },
            ]
        );
        // Equal names under different keys are fine (ImageNet has two "crane"s).
        assert_eq!(
            parse_keyed_class_list("n1 crane\nn2 crane", "x")
                .unwrap()
                .len(),
            2
        );
        let r = reason(parse_keyed_class_list("n1 a\nn1 b", "names.txt").unwrap_err());
        assert!(
            r.contains("key \"n1\" is given twice (lines 1 and 2)"),
            "{r}"
        );
    }
}
