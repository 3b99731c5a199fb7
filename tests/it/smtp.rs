//! A real SMTP server inside the test process (mailin-embedded), recording what it receives.
use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct Mail {
    /// The envelope sender.
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }

    /// The body as the reader sees it: quoted-printable decoded when the message says so.
    pub fn text(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .or_else(|| self.data.split_once("\n\n"))
            .map_or("", |(_, b)| b);
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if !qp {
            return body.replace("\r\n", "\n");
        }
        let out = quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .unwrap_or_else(|e| panic!("{e}: {body}"));
        String::from_utf8_lossy(&out).replace("\r\n", "\n")
    }
}

#[derive(Clone, Default)]
struct Collector {
    inbox: Arc<Mutex<Vec<Mail>>>,
    current: Mail,
    /// Milliseconds to stall before accepting a message's data (a slow mail server).
    stall_ms: Arc<AtomicU64>,
    /// How many of the next messages get no reply to end-of-DATA until `release`.
    hang: Arc<Hang>,
}

#[derive(Default)]
struct Hang {
    next: AtomicU64,
    now: AtomicU64,
    released: std::sync::atomic::AtomicBool,
}

impl Handler for Collector {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let stall = self.stall_ms.load(Ordering::SeqCst);
        if stall > 0 {
            std::thread::sleep(std::time::Duration::from_millis(stall));
        }
        self.current = Mail {
            from: from.to_string(),
            to: to.to_vec(),
            data: String::new(),
        };
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let h = &self.hang;
        let hang = h
            .next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hang {
            h.now.fetch_add(1, Ordering::SeqCst);
            let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while !h.released.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            h.now.fetch_sub(1, Ordering::SeqCst);
        }
        self.inbox
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
    stall_ms: Arc<AtomicU64>,
    hang: Arc<Hang>,
}

impl SmtpServer {
    /// Starts a server on an ephemeral port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener)
    }

    /// Starts a server on a listener bound by the caller (to control when the port answers).
    pub fn start_on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let stall_ms = Arc::new(AtomicU64::new(0));
        let hang = Arc::new(Hang::default());
        let handler = Collector {
            inbox: inbox.clone(),
            current: Mail::default(),
            stall_ms: stall_ms.clone(),
            hang: hang.clone(),
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            // One thread per open connection: senders keep pooled connections open, several
            // at a time per replica, as against a real mail server.
            server
                .with_name("test-smtp")
                .with_num_threads(64)
                .with_tcp_listener(listener);
            let _ = server.serve();
        });
        SmtpServer {
            port,
            inbox,
            stall_ms,
            hang,
        }
    }

    /// The next `n` messages get no reply to end-of-DATA (the connection stays open and
    /// silent) until `release`.
    pub fn hang_at_end_of_data(&self, n: u64) {
        self.hang.next.store(n, Ordering::SeqCst);
    }

    /// How many conversations are hanging right now.
    pub fn hanging(&self) -> u64 {
        self.hang.now.load(Ordering::SeqCst)
    }

    /// Lets hanging conversations finish, and stops hanging new ones.
    pub fn release(&self) {
        self.hang.next.store(0, Ordering::SeqCst);
        self.hang.released.store(true, Ordering::SeqCst);
    }

    /// Makes the server stall before accepting each message's data.
    pub fn stall(&self, d: std::time::Duration) {
        self.stall_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.lock().unwrap().clone()
    }
}

/// A free port with nothing listening on it (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
