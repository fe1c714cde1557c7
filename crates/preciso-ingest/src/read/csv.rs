//! CSV reader: the header row is mapped to fields once; the delimiter (`,`, `;` or tab) is
//! sniffed from the header, since spreadsheets in Spanish locales write `;`. Cells are read as
//! bytes so one row with invalid UTF-8 is one unreadable record, not the end of the file.

use super::{Item, MAX_RECORD_BYTES};
use crate::mapping::{Field, FieldMap};
use crate::record::{RawRecord, RawValue, RecordError};
use std::io::{self, BufRead};

pub(crate) struct CsvReader<'a, R: BufRead> {
    inner: Option<::csv::Reader<R>>,
    pending: Option<R>,
    fields: &'a FieldMap,
    columns: Vec<Option<Field>>,
    unknown_columns: u32,
    record: ::csv::ByteRecord,
    number: u64,
}

impl<'a, R: BufRead> CsvReader<'a, R> {
    pub(crate) fn new(reader: R, fields: &'a FieldMap) -> Self {
        CsvReader {
            inner: None,
            pending: Some(reader),
            fields,
            columns: Vec::new(),
            unknown_columns: 0,
            record: ::csv::ByteRecord::new(),
            number: 0,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let Some(mut reader) = self.pending.take() else { return Ok(()) };
        let delimiter = sniff_delimiter(reader.fill_buf()?);
        let mut csv =
            ::csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(reader);
        let headers = csv.byte_headers().map_err(io::Error::other)?.clone();
        self.columns =
            headers.iter().map(|h| self.fields.resolve(&String::from_utf8_lossy(h))).collect();
        self.unknown_columns = self.columns.iter().filter(|c| c.is_none()).count() as u32;
        if self.columns.iter().all(Option::is_none) {
            // Not this tool's data (or a header-less export): every row would be rejected.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "line 1: no column of the header names a known field (see the README's field mapping)",
            ));
        }
        self.inner = Some(csv);
        Ok(())
    }

    fn to_item(&self, line: u64) -> Item {
        let source = self.record.iter().map(String::from_utf8_lossy).collect::<Vec<_>>().join(",");
        if self.record.as_slice().len() > MAX_RECORD_BYTES {
            let error = RecordError::new(
                None,
                "too_large",
                format!("record exceeds {MAX_RECORD_BYTES} bytes"),
            );
            return Item::Unreadable { line, number: self.number, source: String::new(), error };
        }
        let mut rec = RawRecord::new(line, self.number, &source);
        rec.unknown_keys = self.unknown_columns;
        for (i, cell) in self.record.iter().enumerate() {
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
        if let Err(e) = self.open() {
            return Some(Err(e));
        }
        let csv = self.inner.as_mut()?;
        match csv.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                self.number += 1;
                let line = self.record.position().map_or(0, |p| p.line());
                Some(Ok(self.to_item(line)))
            }
            Err(e) => match e.kind() {
                ::csv::ErrorKind::Io(_) => Some(Err(io::Error::other(e.to_string()))),
                _ => {
                    self.number += 1;
                    let line = e.position().map_or(0, |p| p.line());
                    let error = RecordError::new(None, "invalid_csv", e.to_string());
                    Some(Ok(Item::Unreadable {
                        line,
                        number: self.number,
                        source: String::new(),
                        error,
                    }))
                }
            },
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
}
