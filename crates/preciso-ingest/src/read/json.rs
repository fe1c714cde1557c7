//! JSON readers. `LinesReader` reads JSON Lines: a broken line is one unreadable record.
//! `ArrayReader` streams the elements of a top-level array (or a stream of concatenated
//! objects) without parsing the whole document: a byte scanner finds each element's extent,
//! tracking strings and nesting, and serde parses that slice alone.

use super::{Item, MAX_RECORD_BYTES, too_large};
use crate::mapping::{FieldMap, KeyResolver};
use crate::record::{RawRecord, RawValue, RecordError};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue as JsonText;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

/// Parses one JSON object into a raw record, mapping keys as it goes.
fn parse_object<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    keys: &mut KeyResolver<'_>,
    rec: &mut RawRecord,
) -> Result<(), RecordError> {
    let mut bad_escape = false;
    let seed = RecordSeed { keys, rec, bad_escape: &mut bad_escape };
    seed.deserialize(&mut de).and_then(|()| de.end()).map_err(|e| {
        let code = if e.is_data() && !bad_escape { "not_an_object" } else { "invalid_json" };
        RecordError::new(None, code, format!("record is not a valid JSON object: {e}"))
    })
}

struct RecordSeed<'a, 'b> {
    keys: &'a mut KeyResolver<'b>,
    rec: &'a mut RawRecord,
    /// Set when a string's escapes do not decode (a lone surrogate): the error serde reports
    /// through the visitor is a data error, but the record is invalid JSON.
    bad_escape: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            match self.keys.resolve(&key) {
                Some(field) => {
                    let raw: &'de JsonText = access.next_value()?;
                    match scalar_text(raw.get()) {
                        Scalar::Unescaped(value) => self.rec.set(field, value),
                        Scalar::Escaped(text) => {
                            let text: String = serde_json::from_str(text).map_err(|e| {
                                *self.bad_escape = true;
                                serde::de::Error::custom(e)
                            })?;
                            self.rec.set(field, RawValue::Text(&text));
                        }
                    }
                }
                None => {
                    access.next_value::<IgnoredAny>()?;
                    self.rec.unknown_keys += 1;
                }
            }
        }
        Ok(())
    }
}

/// A JSON value's text, classified without building a `serde_json::Value`.
enum Scalar<'a> {
    /// Anything whose text needs no decoding: a string without escapes, a number (its
    /// decimal text exactly as written), `null`, a boolean, or a nested value.
    Unescaped(RawValue<'a>),
    /// A quoted string with escapes, to be decoded.
    Escaped(&'a str),
}

fn scalar_text(raw: &str) -> Scalar<'_> {
    let raw = raw.trim_ascii();
    Scalar::Unescaped(match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = &raw[1..raw.len() - 1];
            if inner.contains('\\') {
                return Scalar::Escaped(raw);
            }
            RawValue::Text(inner)
        }
        Some(b'n') => RawValue::Null,
        Some(b't') => RawValue::Bool(true),
        Some(b'f') => RawValue::Bool(false),
        Some(b'[' | b'{') => RawValue::Nested,
        _ => RawValue::Number(raw),
    })
}

/// A map key that borrows from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

fn item_from_bytes(bytes: &[u8], line: u64, number: u64, keys: &mut KeyResolver<'_>) -> Item {
    if bytes.len() > MAX_RECORD_BYTES {
        return too_large(line, number);
    }
    // Validated once here; parsing the text then skips validating each string again. A line
    // that is not UTF-8 is parsed as bytes, so a bad string in a mapped field is reported.
    let (rec, parsed) = match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut rec = RawRecord::new(line, number, text);
            let parsed = parse_object(serde_json::Deserializer::from_str(text), keys, &mut rec);
            (rec, parsed)
        }
        Err(_) => {
            let mut rec = RawRecord::new(line, number, &String::from_utf8_lossy(bytes));
            let parsed = parse_object(serde_json::Deserializer::from_slice(bytes), keys, &mut rec);
            (rec, parsed)
        }
    };
    match parsed {
        Ok(()) => Item::Record(rec),
        Err(error) => Item::Unreadable { line, number, source: rec.into_source(), error },
    }
}

/// Reads one line into `buf` (newline included), keeping at most `MAX_RECORD_BYTES + 1` of
/// its bytes: a longer line is read to its end but never held, so memory stays bounded
/// whatever the line's length (`item_from_bytes` then rejects it as too large). Returns the
/// bytes consumed, 0 at the end of the input.
fn read_line_bounded(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    let mut consumed = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_RECORD_BYTES + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

/// JSON Lines: one object per line; blank lines are skipped.
pub(crate) struct LinesReader<'a, R> {
    reader: R,
    keys: KeyResolver<'a>,
    buf: Vec<u8>,
    line: u64,
    number: u64,
}

impl<'a, R: BufRead> LinesReader<'a, R> {
    pub(crate) fn new(reader: R, fields: &'a FieldMap) -> Self {
        let keys = KeyResolver::new(fields);
        LinesReader { reader, keys, buf: Vec::with_capacity(4096), line: 0, number: 0 }
    }
}

impl<R: BufRead> Iterator for LinesReader<'_, R> {
    type Item = io::Result<Item>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match read_line_bounded(&mut self.reader, &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
            self.line += 1;
            if self.buf.len() > MAX_RECORD_BYTES {
                self.number += 1;
                return Some(Ok(too_large(self.line, self.number)));
            }
            let mut bytes = self.buf.trim_ascii();
            if self.line == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            if bytes.is_empty() {
                continue;
            }
            self.number += 1;
            return Some(Ok(item_from_bytes(bytes, self.line, self.number, &mut self.keys)));
        }
    }
}

/// A top-level JSON array `[{…},{…}]`, or objects one after another.
pub(crate) struct ArrayReader<'a, R> {
    reader: R,
    keys: KeyResolver<'a>,
    buf: Vec<u8>,
    line: u64,
    number: u64,
    state: ArrayState,
}

#[derive(PartialEq, Eq)]
enum ArrayState {
    Start,
    InArray,
    Stream,
    Done,
}

impl<'a, R: BufRead> ArrayReader<'a, R> {
    pub(crate) fn new(reader: R, fields: &'a FieldMap) -> Self {
        ArrayReader {
            reader,
            keys: KeyResolver::new(fields),
            buf: Vec::new(),
            line: 1,
            number: 0,
            state: ArrayState::Start,
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.reader.fill_buf()?.first().copied())
    }

    fn bump(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        if let Some(b) = b {
            self.reader.consume(1);
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    /// Skips whitespace, commas between elements and a leading BOM.
    fn skip_separators(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.peek()? {
                Some(b)
                    if b.is_ascii_whitespace()
                        || b == b','
                        || b == 0xEF
                        || b == 0xBB
                        || b == 0xBF =>
                {
                    self.bump()?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Reads one JSON value's bytes into `buf`; returns false if the input ended inside it.
    fn read_value(&mut self) -> io::Result<bool> {
        self.buf.clear();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let Some(b) = self.bump()? else { return Ok(false) };
            if self.buf.len() <= MAX_RECORD_BYTES {
                self.buf.push(b);
            }
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => {
                        in_string = false;
                        if depth == 0 {
                            return Ok(true);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth == 0 && !in_string {
                // A scalar ends at the next separator; a container at its closing bracket.
                if matches!(b, b'}' | b']') {
                    return Ok(true);
                }
                match self.peek()? {
                    Some(n) if n == b',' || n == b']' || n.is_ascii_whitespace() => {
                        return Ok(true);
                    }
                    None => return Ok(true),
                    _ => {}
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for ArrayReader<'_, R> {
    type Item = io::Result<Item>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

impl<R: BufRead> ArrayReader<'_, R> {
    fn next_item(&mut self) -> io::Result<Option<Item>> {
        if self.state == ArrayState::Start {
            self.state = match self.skip_separators()? {
                Some(b'[') => {
                    self.bump()?;
                    ArrayState::InArray
                }
                Some(_) => ArrayState::Stream,
                None => ArrayState::Done,
            };
        }
        if self.state == ArrayState::Done {
            return Ok(None);
        }
        match self.skip_separators()? {
            None => {
                let was_array = self.state == ArrayState::InArray;
                self.state = ArrayState::Done;
                if was_array {
                    let error = RecordError::new(
                        None,
                        "truncated",
                        "the JSON array is not closed: the file ends early",
                    );
                    return Ok(Some(Item::Unreadable {
                        line: self.line,
                        number: self.number + 1,
                        source: String::new(),
                        error,
                    }));
                }
                Ok(None)
            }
            Some(b']') if self.state == ArrayState::InArray => {
                self.state = ArrayState::Done;
                Ok(None)
            }
            Some(_) => {
                let line = self.line;
                self.number += 1;
                let complete = self.read_value()?;
                if !complete {
                    self.state = ArrayState::Done;
                    let error =
                        RecordError::new(None, "truncated", "the file ends inside this record");
                    let source = String::from_utf8_lossy(&self.buf).into_owned();
                    return Ok(Some(Item::Unreadable { line, number: self.number, source, error }));
                }
                Ok(Some(item_from_bytes(&self.buf, line, self.number, &mut self.keys)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Field;
    use proptest::prelude::*;

    fn collect(reader: impl Iterator<Item = io::Result<Item>>) -> Vec<Item> {
        reader.map(|i| i.unwrap()).collect()
    }

    #[test]
    fn array_reader_streams_elements_with_lines() {
        let data = b"[\n {\"precio\": \"$ 1.000\", \"title\": \"a]}\\\"b\"},\n {\"price\": 19.99},\n 42,\n {\"x\": 1}\n]";
        let fields = FieldMap::default();
        let items = collect(ArrayReader::new(&data[..], &fields));
        assert_eq!(items.len(), 4);
        let Item::Record(r) = &items[0] else { panic!("first is a record") };
        assert_eq!(r.line, 2);
        assert_eq!(r.get(Field::Title), Some(RawValue::Text("a]}\"b")));
        let Item::Record(r) = &items[1] else { panic!("second is a record") };
        assert_eq!(r.get(Field::Price), Some(RawValue::Number("19.99")));
        assert_eq!(r.line, 3);
        assert!(matches!(&items[2], Item::Unreadable { line: 4, number: 3, .. }));
        let Item::Record(r) = &items[3] else { panic!("fourth is a record") };
        assert_eq!(r.unknown_keys, 1);
    }

    #[test]
    fn records_over_the_bound_are_rejected_while_read_and_the_next_lands() {
        let fields = FieldMap::default();
        let huge = format!("{{\"title\": \"{}\", \"price\": 1}}", "x".repeat(3 * MAX_RECORD_BYTES));
        let next = r#"{"title": "Radio", "price": 2}"#;
        let lines = format!("{huge}\n{next}\n");
        let items = collect(LinesReader::new(lines.as_bytes(), &fields));
        assert!(
            matches!(&items[0], Item::Unreadable { line: 1, error, source, .. } if error.code == "too_large" && source.is_empty())
        );
        assert!(matches!(&items[1], Item::Record(r) if r.line == 2));
        // Trailing blanks after the bound do not hide the size.
        let spaced = format!("{{\"title\": \"a\"{}}}\n{next}\n", " ".repeat(2 * MAX_RECORD_BYTES));
        let items = collect(LinesReader::new(spaced.as_bytes(), &fields));
        assert!(matches!(&items[0], Item::Unreadable { error, .. } if error.code == "too_large"));
        let array = format!("[{huge},\n{next}]");
        let items = collect(ArrayReader::new(array.as_bytes(), &fields));
        assert!(matches!(&items[0], Item::Unreadable { error, .. } if error.code == "too_large"));
        assert!(matches!(&items[1], Item::Record(r) if r.line == 2));
    }

    #[test]
    fn truncated_array_reports_the_last_record() {
        let fields = FieldMap::default();
        let items = collect(ArrayReader::new(&b"[{\"price\": 1}, {\"price\": "[..], &fields));
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[1], Item::Unreadable { number: 2, error, .. } if error.code == "truncated")
        );
    }

    #[test]
    fn values_are_decoded_and_bad_escapes_are_invalid_json() {
        let fields = FieldMap::default();
        let data = br#"{"title": " caf\u00e9 \"x\"", "price": -1.50e2, "rating": null, "gtin": [1], "reviews": true}
{"title": "\ud800", "price": 1}
"#;
        let items = collect(LinesReader::new(&data[..], &fields));
        let Item::Record(r) = &items[0] else { panic!("first is a record") };
        assert_eq!(r.get(Field::Title), Some(RawValue::Text(" café \"x\"")));
        assert_eq!(r.get(Field::Price), Some(RawValue::Number("-1.50e2")));
        assert_eq!(r.get(Field::Rating), Some(RawValue::Null));
        assert_eq!(r.get(Field::Gtin), Some(RawValue::Nested));
        assert_eq!(r.get(Field::Reviews), Some(RawValue::Bool(true)));
        assert_eq!(r.get(Field::Sku), None);
        assert_eq!(
            r.source(),
            std::str::from_utf8(data.split(|b| *b == b'\n').next().unwrap()).unwrap()
        );
        let Item::Unreadable { error, source, .. } = &items[1] else {
            panic!("second is unreadable")
        };
        assert_eq!(error.code, "invalid_json");
        assert_eq!(source, r#"{"title": "\ud800", "price": 1}"#);
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            any::<String>().prop_map(serde_json::Value::from),
            "[ -~]{0,12}".prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!([1, {"a": "b"}])),
        ]
    }

    proptest! {
        /// Whatever a mapped key holds, the record gives back what serde_json decodes.
        #[test]
        fn mapped_values_read_back_as_serde_decodes_them(
            values in proptest::collection::vec(json_value(), 1..6),
            noise in json_value(),
        ) {
            let keys = ["title", "precio", "Marca", "sku", "categoría"];
            let fields = FieldMap::default();
            let mut object = serde_json::Map::new();
            object.insert("vendedor".into(), noise);
            for (key, value) in keys.iter().zip(&values) {
                object.insert((*key).into(), value.clone());
            }
            let line = serde_json::Value::Object(object).to_string();
            let items = collect(LinesReader::new(line.as_bytes(), &fields));
            let Item::Record(r) = &items[0] else { panic!("a record: {line}") };
            prop_assert_eq!(r.source(), line.as_str());
            prop_assert_eq!(r.unknown_keys, 1);
            for (key, value) in keys.iter().zip(&values) {
                let field = fields.resolve(key).unwrap();
                let number_text = value.to_string();
                let expected = match value {
                    serde_json::Value::String(s) => RawValue::Text(s),
                    serde_json::Value::Number(_) => RawValue::Number(&number_text),
                    serde_json::Value::Bool(b) => RawValue::Bool(*b),
                    serde_json::Value::Null => RawValue::Null,
                    _ => RawValue::Nested,
                };
                prop_assert_eq!(r.get(field), Some(expected));
            }
        }

        /// Any bytes at all: every line is one item, and reading never panics.
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 1..80),
            1..8,
        )) {
            let mut data = Vec::new();
            for line in &lines {
                data.extend_from_slice(line);
                data.push(b'\n');
            }
            let fields = FieldMap::default();
            let items = collect(LinesReader::new(&data[..], &fields));
            let non_blank = lines.iter().filter(|l| !l.trim_ascii().is_empty()).count();
            prop_assert_eq!(items.len(), non_blank);
        }
    }

    #[test]
    fn lines_reader_keeps_going_after_a_broken_line() {
        let fields = FieldMap::default();
        let data = b"{\"price\": \"1\"}\n{broken\n\n{\"Precio\": \"2\"}\n";
        let items = collect(LinesReader::new(&data[..], &fields));
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[1], Item::Unreadable { line: 2, number: 2, .. }));
        let Item::Record(r) = &items[2] else { panic!("record") };
        assert_eq!((r.line, r.number), (4, 3));
    }
}
