//! CSV reader: the header row is mapped to fields once; the delimiter (`,`, `;` or tab) is
//! sniffed from the header, since spreadsheets in Spanish locales write `;`. Cells are read as
//! bytes so one row with invalid UTF-8 is one unreadable record, not the end of the file.
//!
//! Records are parsed with `csv_core` into buffers this reader bounds: a row larger than
//! `MAX_RECORD_BYTES` (or with more than `MAX_FIELDS` cells) is read to its end without
//! being held, and rejected as too large; the next row is read as usual.

use super::{Item, MAX_RECORD_BYTES, too_large};
use crate::mapping::{Field, FieldMap};
use crate::record::{RawRecord, RawValue, RecordError};
use csv_core::ReadRecordResult;
use std::io::{self, BufRead};

/// Cells of one row, at most (a row of delimiters only is bounded too).
const MAX_FIELDS: usize = 10_000;

pub(crate) struct CsvReader<'a, R: BufRead> {
    reader: R,
    core: Option<csv_core::Reader>,
    fields: &'a FieldMap,
    columns: Vec<Option<Field>>,
    unknown_columns: u32,
    row: Row,
    /// 1-based line of the next byte to read.
    line: u64,
    number: u64,
}

/// One row's bytes and the end offset of each of its cells.
#[derive(Default)]
struct Row {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Line where the row starts.
    line: u64,
    too_large: bool,
}

impl Row {
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        self.ends.iter().scan(0, |start, &end| {
            let cell = &self.bytes[*start..end];
            *start = end;
            Some(cell)
        })
    }
}

impl<'a, R: BufRead> CsvReader<'a, R> {
    pub(crate) fn new(reader: R, fields: &'a FieldMap) -> Self {
        CsvReader {
            reader,
            core: None,
            fields,
            columns: Vec::new(),
            unknown_columns: 0,
            row: Row::default(),
            line: 1,
            number: 0,
        }
    }

    /// Sniffs the delimiter and maps the header, once.
    fn open(&mut self) -> io::Result<bool> {
        if self.core.is_some() {
            return Ok(true);
        }
        let delimiter = sniff_delimiter(self.reader.fill_buf()?);
        self.core = Some(csv_core::ReaderBuilder::new().delimiter(delimiter).build());
        if !self.read_row()? {
            return Ok(false);
        }
        let headers: Vec<String> =
            self.row.cells().map(|h| String::from_utf8_lossy(h).into_owned()).collect();
        self.columns = headers.iter().map(|h| self.fields.resolve(h)).collect();
        self.unknown_columns = self.columns.iter().filter(|c| c.is_none()).count() as u32;
        if self.columns.iter().all(Option::is_none) {
            // Not this tool's data (or a header-less export): every row would be rejected.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "line 1: no column of the header names a known field (see the README's field mapping)",
            ));
        }
        Ok(true)
    }

    /// Reads the next row into `self.row`; `false` at the end of the input.
    fn read_row(&mut self) -> io::Result<bool> {
        let Some(core) = self.core.as_mut() else { return Ok(false) };
        let row = &mut self.row;
        row.bytes.clear();
        row.ends.clear();
        row.too_large = false;
        row.line = 0;
        let (mut out, mut nends) = (0usize, 0usize);
        row.bytes.resize(4096, 0);
        row.ends.resize(64, 0);
        loop {
            let input = self.reader.fill_buf()?;
            let (result, nin, nout, nend) =
                core.read_record(input, &mut row.bytes[out..], &mut row.ends[nends..]);
            for &b in &input[..nin] {
                if row.line == 0 && b != b'\n' && b != b'\r' {
                    row.line = self.line;
                }
                self.line += u64::from(b == b'\n');
            }
            self.reader.consume(nin);
            out += nout;
            nends += nend;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    grow(&mut row.bytes, &mut out, MAX_RECORD_BYTES, &mut row.too_large)
                }
                ReadRecordResult::OutputEndsFull => {
                    grow(&mut row.ends, &mut nends, MAX_FIELDS, &mut row.too_large)
                }
                ReadRecordResult::Record => {
                    row.bytes.truncate(out);
                    row.ends.truncate(nends);
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    fn to_item(&self) -> Item {
        let line = self.row.line;
        if self.row.too_large {
            return too_large(line, self.number);
        }
        let source = self.row.cells().map(String::from_utf8_lossy).collect::<Vec<_>>().join(",");
        let mut rec = RawRecord::new(line, self.number, &source);
        rec.unknown_keys = self.unknown_columns;
        for (i, cell) in self.row.cells().enumerate() {
            let Some(Some(field)) = self.columns.get(i) else { continue };
            let Ok(text) = std::str::from_utf8(cell) else {
                let error = RecordError::new(
                    Some(*field),
                    "invalid_utf8",
                    format!("column {} is not valid UTF-8", i + 1),
                );
                return Item::Unreadable { line, number: self.number, source, error };
            };
            if !text.trim().is_empty() {
                rec.set(*field, RawValue::Text(text));
            }
        }
        Item::Record(rec)
    }
}

/// Doubles a full output buffer up to `limit`; past it the row is marked too large and its
/// bytes so far are dropped (the rest of the row is still read, into the same room).
fn grow<T: Default + Clone>(
    buf: &mut Vec<T>,
    used: &mut usize,
    limit: usize,
    too_large: &mut bool,
) {
    if buf.len() >= limit {
        *too_large = true;
        *used = 0;
    } else {
        buf.resize((buf.len() * 2).min(limit), T::default());
    }
}

fn sniff_delimiter(head: &[u8]) -> u8 {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

impl<R: BufRead> Iterator for CsvReader<'_, R> {
    type Item = io::Result<Item>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.open().and_then(|open| if open { self.read_row() } else { Ok(false) }) {
            Ok(true) => {
                self.number += 1;
                Some(Ok(self.to_item()))
            }
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_headers_and_sniffs_semicolons() {
        let fields = FieldMap::default();
        let data = "Tienda;Nombre;Precio;Vendedor\nexito;TV;$ 1.000;x\nexito;Radio;;y\n";
        let items: Vec<Item> =
            CsvReader::new(data.as_bytes(), &fields).map(Result::unwrap).collect();
        assert_eq!(items.len(), 2);
        let Item::Record(r) = &items[0] else { panic!("record") };
        assert_eq!(r.get(Field::Price), Some(RawValue::Text("$ 1.000")));
        assert_eq!((r.line, r.number, r.unknown_keys), (2, 1, 1));
        let Item::Record(r) = &items[1] else { panic!("record") };
        assert_eq!(r.get(Field::Price), None);
        assert_eq!(r.line, 3);
    }

    #[test]
    fn quoted_cells_blank_lines_and_line_numbers() {
        let fields = FieldMap::default();
        let data = "store,title,price\r\n\r\nexito,\"TV \"\"55\"\"\nSamsung\",\"$ 1.000\"\r\n\nexito,Radio,2\n";
        let items: Vec<Item> =
            CsvReader::new(data.as_bytes(), &fields).map(Result::unwrap).collect();
        assert_eq!(items.len(), 2);
        let Item::Record(r) = &items[0] else { panic!("record") };
        assert_eq!(r.get(Field::Title), Some(RawValue::Text("TV \"55\"\nSamsung")));
        assert_eq!((r.line, r.number), (3, 1));
        let Item::Record(r) = &items[1] else { panic!("record") };
        assert_eq!((r.line, r.number), (6, 2));
        assert_eq!(r.get(Field::Price), Some(RawValue::Text("2")));
    }

    #[test]
    fn a_row_over_the_bound_is_rejected_while_read_and_the_next_lands() {
        let fields = FieldMap::default();
        let huge = "x".repeat(3 * MAX_RECORD_BYTES);
        let data = format!("store,title,price\nexito,\"{huge}\",1\nexito,Radio,2\n");
        let items: Vec<Item> =
            CsvReader::new(data.as_bytes(), &fields).map(Result::unwrap).collect();
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[0], Item::Unreadable { line: 2, number: 1, error, .. } if error.code == "too_large")
        );
        let Item::Record(r) = &items[1] else { panic!("record") };
        assert_eq!((r.line, r.get(Field::Title)), (3, Some(RawValue::Text("Radio"))));
        let commas = ",".repeat(2 * MAX_FIELDS);
        let data = format!("store,title,price\n{commas}\nexito,Radio,2\n");
        let items: Vec<Item> =
            CsvReader::new(data.as_bytes(), &fields).map(Result::unwrap).collect();
        assert!(matches!(&items[0], Item::Unreadable { error, .. } if error.code == "too_large"));
        assert!(matches!(&items[1], Item::Record(_)));
    }
}
