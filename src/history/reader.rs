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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one case of a log may hold, so that reading it takes bounded memory.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Events in one case (IMPORT_MAX_EVENTS_PER_CASE).
    pub events_per_case: usize,
    /// Bytes of one attribute: in XES, of one element's tag or text; in CSV, of one line
    /// (IMPORT_MAX_ATTRIBUTE_BYTES).
    pub attribute_bytes: usize,
}

impl ReadLimits {
    fn too_many_events(&self, case: &str) -> String {
        format!(
            "{case} has more than {} events, the most one case may hold \
             (IMPORT_MAX_EVENTS_PER_CASE)",
            self.events_per_case
        )
    }

    fn too_long(&self, case: &str, what: &str) -> String {
        format!(
            "{case}: {what} is longer than {} bytes, the most one attribute may hold \
             (IMPORT_MAX_ATTRIBUTE_BYTES)",
            self.attribute_bytes
        )
    }
}

/// A reader that fails once `limit` bytes pass without a `stop` byte (the end of an XML tag,
/// or of a CSV line), before a parser buffers them; `tripped` tells the parser's caller why.
struct Guard<R> {
    inner: R,
    stop: u8,
    limit: usize,
    run: usize,
    tripped: Arc<AtomicBool>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.run = if b == self.stop { 0 } else { self.run + 1 };
            if self.run > self.limit {
                self.tripped.store(true, Ordering::Release);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "over the attribute size limit",
                ));
            }
        }
        Ok(n)
    }
}

/// How a case is named in a message: by its id when known, else by its place in the file.
fn case_name(id: Option<&str>, number: usize) -> String {
    match id {
        Some(id) => format!(
            "case {:?} (number {number} in the file)",
            id.replace('\0', "\\0")
        ),
        None => format!("case number {number} in the file"),
    }
}

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
pub fn open(
    path: &Path,
    m: &Mapping,
    limits: ReadLimits,
) -> Result<Box<dyn CaseReader + Send>, String> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let event_keys = EventKeys {
        activity: m.event.activity.clone(),
        timestamp: m.event.timestamp.clone(),
        resource: m.event.resource.clone(),
        lifecycle: m.event.lifecycle.clone(),
    };
    let tripped = Arc::new(AtomicBool::new(false));
    // A tag holds its name, the attribute's key and value, and their quotes.
    let guard = |inner: Box<dyn Read + Send>, stop: u8, slack: usize| Guard {
        inner,
        stop,
        limit: limits.attribute_bytes.saturating_add(slack),
        run: 0,
        tripped: tripped.clone(),
    };
    let xes = |r: Box<dyn Read + Send>| {
        let r = BufReader::new(guard(r, b'>', 4096));
        let mut x = XesReader::new(r, m.case.id.clone(), event_keys.clone(), limits);
        x.tripped = tripped.clone();
        Box::new(x)
    };
    if name.ends_with(".xes.gz") {
        Ok(xes(Box::new(flate2::read::MultiGzDecoder::new(file))))
    } else if name.ends_with(".xes") {
        Ok(xes(Box::new(file)))
    } else if name.ends_with(".csv") {
        ends_with_line_break(path)?;
        let crlf = first_line_ends_in_crlf(path);
        // A line holds every column of one event.
        let line = limits
            .attribute_bytes
            .saturating_mul(4)
            .saturating_add(65_536);
        let r = guard(Box::new(file), b'\n', line);
        let mut csv = CsvReader::new(r, m, event_keys, limits, tripped.clone())?;
        csv.crlf = crlf;
        Ok(Box::new(csv))
    } else {
        Err(format!(
            "{}: expected a .xes, .xes.gz or .csv file",
            path.display()
        ))
    }
}

/// Whether the file's first line ends with CR LF. The csv crate then gives each record the
/// line before its own (it counts the LF of the previous record's CR LF only once it reads
/// on), so the reader adds one.
fn first_line_ends_in_crlf(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    let _ = f.take(65_536).read_to_end(&mut head);
    head.iter()
        .position(|b| *b == b'\n')
        .is_some_and(|i| i > 0 && head[i - 1] == b'\r')
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
    limits: ReadLimits,
    /// Set when the input's guard stopped an over-long tag.
    tripped: Arc<AtomicBool>,
    /// Traces begun so far.
    cases: usize,
}

impl<R: BufRead> XesReader<R> {
    pub fn new(r: R, case_key: String, keys: EventKeys, limits: ReadLimits) -> Self {
        let mut xml = Reader::from_reader(r);
        xml.config_mut().trim_text(true);
        XesReader {
            xml,
            buf: Vec::new(),
            case_key,
            keys,
            done: false,
            closed: false,
            limits,
            tripped: Arc::default(),
            cases: 0,
        }
    }

    /// The case being read, as a message names it.
    fn current(&self, p: &Partial) -> String {
        let id = p
            .case
            .as_ref()
            .and_then(|c| match c.attrs.get(&self.case_key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => Some(v.to_string()),
                None => None,
            });
        case_name(id.as_deref(), self.cases)
    }

    /// A read error: over the size limit, or malformed XML.
    fn read_error(&self, p: &Partial, pos: u64, e: quick_xml::Error) -> String {
        if self.tripped.load(Ordering::Acquire) {
            return self
                .limits
                .too_long(&self.current(p), &format!("an element near byte {pos}"));
        }
        format!("malformed XES near byte {pos}: {e}")
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
                if let (Some(attrs), Some(c)) = (p.event.take(), p.case.as_ref()) {
                    if c.events.len() >= self.limits.events_per_case {
                        return Err(self.limits.too_many_events(&self.current(p)));
                    }
                    let ev = finish_event(attrs, &self.keys, None)
                        .map_err(|m| format!("malformed XES near byte {pos}: {m}"))?;
                    if let Some(c) = p.case.as_mut() {
                        c.events.push(ev);
                    }
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
            let ev = match self.xml.read_event_into(&mut buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.read_error(&p, pos, e)),
            };
            if let XmlEvent::Start(ref e) = ev {
                self.cases += usize::from(e.local_name().as_ref() == b"trace");
            }
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

type CsvInput = Guard<Box<dyn Read + Send>>;

/// CSV with one row per event, rows of a case together.
pub struct CsvReader {
    rows: csv::StringRecordsIntoIter<CsvInput>,
    headers: Vec<String>,
    case_col: usize,
    keys: EventKeys,
    format: Option<String>,
    pending: Option<Row>,
    /// Hashes of the case ids read so far (8 bytes per case, whatever the ids' length).
    seen: HashSet<u64>,
    limits: ReadLimits,
    tripped: Arc<AtomicBool>,
    cases: usize,
    /// The case being read.
    current: String,
    /// Lines end with CR LF (see [`first_line_ends_in_crlf`]).
    crlf: bool,
}

/// The most bytes one CSV line may hold: a line holds every column of one event.
fn csv_line_limit(l: &ReadLimits) -> usize {
    l.attribute_bytes.saturating_mul(4).saturating_add(65_536)
}

/// A 64-bit hash of a case id.
fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl CsvReader {
    fn new(
        input: CsvInput,
        m: &Mapping,
        keys: EventKeys,
        limits: ReadLimits,
        tripped: Arc<AtomicBool>,
    ) -> Result<Self, String> {
        let mut r = csv::Reader::from_reader(input);
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
            limits,
            tripped,
            cases: 0,
            current: String::new(),
            crlf: false,
        })
    }

    fn row(&mut self) -> Result<Option<Row>, String> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        match self.rows.next() {
            None => Ok(None),
            Some(Err(_)) if self.tripped.load(Ordering::Acquire) => {
                let after = match self.cases {
                    0 => "the header".to_string(),
                    n => case_name(Some(&self.current), n),
                };
                Err(format!(
                    "a line of the CSV file after {after} is longer than {} bytes, the most one \
                     line may hold (four times IMPORT_MAX_ATTRIBUTE_BYTES, and 64 KiB)",
                    csv_line_limit(&self.limits)
                ))
            }
            Some(Err(e)) => Err(format!("malformed CSV: {e}")),
            Some(Ok(rec)) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0) + u64::from(self.crlf);
                let case = rec.get(self.case_col).unwrap_or_default().to_string();
                let number = self.cases + usize::from(case != self.current);
                if let Some((h, _)) = self
                    .headers
                    .iter()
                    .zip(rec.iter())
                    .find(|(_, v)| v.len() > self.limits.attribute_bytes)
                {
                    let what = format!("column {h:?} on CSV line {line}");
                    return Err(self.limits.too_long(&case_name(Some(&case), number), &what));
                }
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
        self.cases += 1;
        self.current = id.clone();
        if !self.seen.insert(id_hash(&id)) {
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
            if c.events.len() >= self.limits.events_per_case {
                return Err(self
                    .limits
                    .too_many_events(&case_name(Some(&id), self.cases)));
            }
            let ev = finish_event(attrs, &self.keys, self.format.as_deref())
                .map_err(|m| format!("CSV line {line}: {m}"))?;
            c.events.push(ev);
            next = self.row()?;
        }
        Ok(Some(c))
    }
}
