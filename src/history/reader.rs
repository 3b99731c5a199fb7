//! Streaming readers for XES (IEEE 1849; `.xes` and gzip-compressed `.xes.gz`) and CSV logs.
use super::mapping::Mapping;
use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// One event of a case.
#[derive(Clone, Debug, Default)]
pub struct Event {
    pub activity: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub resource: Option<String>,
    pub lifecycle: Option<String>,
    pub attrs: Map<String, Value>,
}

/// One case (an XES trace).
#[derive(Clone, Debug, Default)]
pub struct Case {
    pub id: String,
    pub attrs: Map<String, Value>,
    pub events: Vec<Event>,
}

impl Case {
    /// Where the case holds a NUL character (U+0000), which PostgreSQL cannot store: the case
    /// id, an activity, a resource, a lifecycle, or an attribute's name or text.
    pub fn nul(&self) -> Option<String> {
        fn in_value(v: &Value) -> bool {
            match v {
                Value::String(s) => s.contains('\0'),
                Value::Array(a) => a.iter().any(in_value),
                Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || in_value(v)),
                _ => false,
            }
        }
        let attr = |m: &Map<String, Value>| {
            m.iter()
                .find(|(k, v)| k.contains('\0') || in_value(v))
                .map(|(k, _)| k.replace('\0', "\\0"))
        };
        if self.id.contains('\0') {
            return Some("its id".into());
        }
        if let Some(k) = attr(&self.attrs) {
            return Some(format!("its attribute {k:?}"));
        }
        self.events.iter().enumerate().find_map(|(i, e)| {
            let texts = [Some(&e.activity), e.resource.as_ref(), e.lifecycle.as_ref()];
            if texts.into_iter().flatten().any(|t| t.contains('\0')) {
                return Some(format!(
                    "event {} (its activity, resource or lifecycle)",
                    i + 1
                ));
            }
            attr(&e.attrs).map(|k| format!("event {}'s attribute {k:?}", i + 1))
        })
    }
}

pub trait CaseReader {
    /// The next case, None at the end, or an error naming where the file broke.
    fn next_case(&mut self) -> Result<Option<Case>, String>;
}

/// Opens a log by its extension: `.xes`, `.xes.gz` or `.csv`.
pub fn open(path: &Path, m: &Mapping) -> Result<Box<dyn CaseReader + Send>, String> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let event_keys = EventKeys {
        activity: m.event.activity.clone(),
        timestamp: m.event.timestamp.clone(),
        resource: m.event.resource.clone(),
        lifecycle: m.event.lifecycle.clone(),
    };
    if name.ends_with(".xes.gz") {
        let r: Box<dyn Read + Send> = Box::new(flate2::read::MultiGzDecoder::new(file));
        Ok(Box::new(XesReader::new(
            BufReader::new(r),
            m.case.id.clone(),
            event_keys,
        )))
    } else if name.ends_with(".xes") {
        let r: Box<dyn Read + Send> = Box::new(file);
        Ok(Box::new(XesReader::new(
            BufReader::new(r),
            m.case.id.clone(),
            event_keys,
        )))
    } else if name.ends_with(".csv") {
        ends_with_line_break(path)?;
        Ok(Box::new(CsvReader::new(file, m, event_keys)?))
    } else {
        Err(format!(
            "{}: expected a .xes, .xes.gz or .csv file",
            path.display()
        ))
    }
}

/// A CSV file that does not end with a line break ends mid-record: it was cut short, and its
/// last record may be incomplete with nothing to show it.
fn ends_with_line_break(path: &Path) -> Result<(), String> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(format!("{} is empty", path.display()));
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1))
        .and_then(|_| f.read_exact(&mut last))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if last[0] != b'\n' && last[0] != b'\r' {
        return Err(format!(
            "malformed CSV: {} ends in the middle of a line, so its last record may be cut \
             short; a complete CSV file ends with a line break",
            path.display()
        ));
    }
    Ok(())
}

/// Which attributes of an event hold its activity, timestamp, resource and lifecycle.
#[derive(Clone)]
pub struct EventKeys {
    pub activity: String,
    pub timestamp: String,
    pub resource: Option<String>,
    pub lifecycle: Option<String>,
}

fn finish_event(
    attrs: Map<String, Value>,
    k: &EventKeys,
    timestamp_format: Option<&str>,
) -> Result<Event, String> {
    let text = |key: &str| {
        attrs.get(key).map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
    };
    let activity =
        text(&k.activity).ok_or_else(|| format!("an event has no {:?} attribute", k.activity))?;
    let timestamp = match text(&k.timestamp) {
        Some(t) => Some(
            parse_time(&t, timestamp_format)
                .ok_or_else(|| format!("event {activity:?}: cannot read timestamp {t:?}"))?,
        ),
        None => None,
    };
    Ok(Event {
        activity,
        timestamp,
        resource: k.resource.as_deref().and_then(text),
        lifecycle: k.lifecycle.as_deref().and_then(text),
        attrs,
    })
}

fn parse_time(t: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    if let Some(f) = format {
        return NaiveDateTime::parse_from_str(t.trim(), f)
            .ok()
            .map(|n| n.and_utc());
    }
    DateTime::parse_from_rfc3339(t.trim())
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// XES, read event by event.
pub struct XesReader<R: BufRead> {
    xml: Reader<R>,
    buf: Vec<u8>,
    case_key: String,
    keys: EventKeys,
    done: bool,
    /// Whether `</log>` was read: a file that ends without it was cut short.
    closed: bool,
}

impl<R: BufRead> XesReader<R> {
    pub fn new(r: R, case_key: String, keys: EventKeys) -> Self {
        let mut xml = Reader::from_reader(r);
        xml.config_mut().trim_text(true);
        XesReader {
            xml,
            buf: Vec::new(),
            case_key,
            keys,
            done: false,
            closed: false,
        }
    }

    fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name.as_bytes())
            .and_then(|a| a.unescape_value().ok().map(|v| v.to_string()))
    }

    /// A typed XES attribute element as (key, value).
    fn typed(e: &BytesStart<'_>) -> Option<(String, Value)> {
        let key = Self::attr(e, "key")?;
        let raw = Self::attr(e, "value").unwrap_or_default();
        let v = match e.local_name().as_ref() {
            b"int" => raw
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or(Value::String(raw)),
            b"float" => raw
                .parse::<f64>()
                .map(|n| json!(n))
                .unwrap_or(Value::String(raw)),
            b"boolean" => Value::Bool(raw.eq_ignore_ascii_case("true")),
            b"string" | b"date" | b"id" => Value::String(raw),
            _ => return None,
        };
        Some((key, v))
    }
}

/// The trace being read: its case, the event being read, and how deep inside an attribute
/// (whose nested children are skipped) the reader is.
#[derive(Default)]
struct Partial {
    case: Option<Case>,
    event: Option<Map<String, Value>>,
    nested: usize,
}

impl Partial {
    /// An element opens (or is empty): a trace, an event, or an attribute of either.
    fn open(&mut self, e: &BytesStart<'_>, empty: bool, pos: u64) -> Result<(), String> {
        match e.local_name().as_ref() {
            b"trace" if !empty => {
                if self.case.is_some() {
                    return Err(format!(
                        "malformed XES near byte {pos}: a trace inside a trace"
                    ));
                }
                self.case = Some(Case::default());
            }
            b"event" if !empty && self.case.is_some() && self.nested == 0 => {
                self.event = Some(Map::new())
            }
            _ if self.nested > 0 => self.nested += usize::from(!empty),
            _ => {
                let typed = XesReader::<&[u8]>::typed(e);
                // The nested children of an attribute, or of anything else in a trace, are
                // skipped.
                let skip_children = !empty && (typed.is_some() || self.case.is_some());
                if let Some((k, v)) = typed {
                    match (&mut self.event, &mut self.case) {
                        (Some(ev), _) => {
                            ev.insert(k, v);
                        }
                        (None, Some(c)) => {
                            c.attrs.insert(k, v);
                        }
                        _ => {}
                    }
                }
                if skip_children {
                    self.nested = 1;
                }
            }
        }
        Ok(())
    }
}

impl<R: BufRead> XesReader<R> {
    /// An element closes: an event joins its trace, a trace is complete, or the log ends.
    fn close(&mut self, p: &mut Partial, name: &[u8], pos: u64) -> Result<Option<Case>, String> {
        if p.nested > 0 {
            p.nested -= 1;
            return Ok(None);
        }
        match name {
            b"event" => {
                if let (Some(attrs), Some(c)) = (p.event.take(), p.case.as_mut()) {
                    let ev = finish_event(attrs, &self.keys, None)
                        .map_err(|m| format!("malformed XES near byte {pos}: {m}"))?;
                    c.events.push(ev);
                }
            }
            b"log" if p.case.is_none() => self.closed = true,
            b"trace" => {
                let mut c = p.case.take().ok_or_else(|| {
                    format!("malformed XES near byte {pos}: </trace> without <trace>")
                })?;
                c.id = match c.attrs.get(&self.case_key) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => {
                        return Err(format!(
                            "malformed XES near byte {pos}: a trace has no {:?} attribute",
                            self.case_key
                        ));
                    }
                };
                return Ok(Some(c));
            }
            _ => {}
        }
        Ok(None)
    }

    /// The end of the file: fine only outside a trace and after `</log>`.
    fn end_of_file(&mut self, p: &Partial, pos: u64) -> Result<Option<Case>, String> {
        self.done = true;
        if p.case.is_some() {
            return Err(format!(
                "malformed XES: the file ends inside a trace (byte {pos})"
            ));
        }
        if !self.closed {
            return Err(format!(
                "malformed XES: the file ends at byte {pos} without </log>; it was \
                 cut short, and nothing was imported"
            ));
        }
        Ok(None)
    }
}

impl<R: BufRead> CaseReader for XesReader<R> {
    fn next_case(&mut self) -> Result<Option<Case>, String> {
        if self.done {
            return Ok(None);
        }
        let mut p = Partial::default();
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let pos = self.xml.buffer_position();
            let ev = self
                .xml
                .read_event_into(&mut buf)
                .map_err(|e| format!("malformed XES near byte {pos}: {e}"))?;
            let found = match ev {
                XmlEvent::Start(ref e) => p.open(e, false, pos).map(|_| None),
                XmlEvent::Empty(ref e) => p.open(e, true, pos).map(|_| None),
                XmlEvent::End(ref e) => {
                    let name = e.local_name().as_ref().to_vec();
                    self.close(&mut p, &name, pos)
                }
                XmlEvent::Eof => return self.end_of_file(&p, pos),
                _ => Ok(None),
            };
            self.buf = buf;
            if let Some(c) = found? {
                return Ok(Some(c));
            }
        }
    }
}

/// Every column a mapping reads from a CSV file, with the mapping key that names it.
fn mapped_columns(m: &Mapping) -> Vec<(&str, String)> {
    let mut out = vec![
        (m.case.id.as_str(), "[case] id".to_string()),
        (m.event.activity.as_str(), "[event] activity".into()),
        (m.event.timestamp.as_str(), "[event] timestamp".into()),
    ];
    if let Some(r) = &m.event.resource {
        out.push((r, "[event] resource".into()));
    }
    if let Some(l) = &m.event.lifecycle {
        out.push((l, "[event] lifecycle".into()));
    }
    for f in &m.input {
        out.push((&f.attribute, "an [[input]] attribute".into()));
    }
    out
}

/// One CSV row: its case id, its columns as attributes, and its line number.
type Row = (String, Map<String, Value>, u64);

/// CSV with one row per event, rows of a case together.
pub struct CsvReader {
    rows: csv::StringRecordsIntoIter<File>,
    headers: Vec<String>,
    case_col: usize,
    keys: EventKeys,
    format: Option<String>,
    pending: Option<Row>,
    seen: HashSet<String>,
}

impl CsvReader {
    fn new(file: File, m: &Mapping, keys: EventKeys) -> Result<Self, String> {
        let mut r = csv::Reader::from_reader(file);
        let headers: Vec<String> = r
            .headers()
            .map_err(|e| format!("CSV header: {e}"))?
            .iter()
            .map(str::to_string)
            .collect();
        for (column, role) in mapped_columns(m) {
            if !headers.iter().any(|h| h == column) {
                return Err(format!(
                    "the CSV header has no column {column:?}, which the mapping names as \
                     {role}; the header has {headers:?}"
                ));
            }
        }
        let case_col = headers.iter().position(|h| *h == m.case.id).unwrap_or(0);
        Ok(CsvReader {
            rows: r.into_records(),
            headers,
            case_col,
            keys,
            format: m.timestamp_format.clone(),
            pending: None,
            seen: HashSet::new(),
        })
    }

    fn row(&mut self) -> Result<Option<Row>, String> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        match self.rows.next() {
            None => Ok(None),
            Some(Err(e)) => Err(format!("malformed CSV: {e}")),
            Some(Ok(rec)) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let case = rec.get(self.case_col).unwrap_or_default().to_string();
                let attrs: Map<String, Value> = self
                    .headers
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(|v| Value::String(v.to_string())))
                    .collect();
                Ok(Some((case, attrs, line)))
            }
        }
    }
}

impl CaseReader for CsvReader {
    fn next_case(&mut self) -> Result<Option<Case>, String> {
        let Some((id, first, line)) = self.row()? else {
            return Ok(None);
        };
        if !self.seen.insert(id.clone()) {
            return Err(format!(
                "CSV line {line}: case {id:?} appears again after other cases; sort the file by case"
            ));
        }
        let mut c = Case {
            id: id.clone(),
            attrs: first.clone(),
            events: Vec::new(),
        };
        let mut next = Some((id.clone(), first, line));
        while let Some((cid, attrs, line)) = next.take() {
            if cid != id {
                self.pending = Some((cid, attrs, line));
                break;
            }
            let ev = finish_event(attrs, &self.keys, self.format.as_deref())
                .map_err(|m| format!("CSV line {line}: {m}"))?;
            c.events.push(ev);
            next = self.row()?;
        }
        Ok(Some(c))
    }
}
