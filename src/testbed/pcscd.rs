//! Starting and stopping a private pcscd with the vpcd driver.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The vpcd driver installed by Debian's `vsmartcard-vpcd`.
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// Names of the two vpcd readers, slot 0 and slot 1.
pub const READER_NAMES: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];

/// A pcscd of our own, stopped on drop.
pub struct Pcscd {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    friendly: Vec<u8>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Finds a port p with p and p+1 free (vpcd listens on one port per slot).
///
/// The ports come from below the kernel's ephemeral range (32768 and up on Linux):
/// an ephemeral port found free now can be taken a moment later as the local end of
/// some outgoing connection (a virtual card of another test bed), and vpcd's bind
/// then fails silently, leaving a reader no card can reach.
fn free_port_pair() -> std::io::Result<u16> {
    const LOW: u32 = 20000;
    const SPAN: u32 = 12000;
    let seed = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(COUNTER.load(Ordering::SeqCst).wrapping_mul(104729))
        .wrapping_add(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0),
        );
    for i in 0..SPAN / 2 {
        let p = (LOW + (seed.wrapping_add(i * 2) % SPAN)) as u16;
        if TcpListener::bind(("0.0.0.0", p)).is_ok()
            && TcpListener::bind(("0.0.0.0", p + 1)).is_ok()
        {
            return Ok(p);
        }
    }
    Err(std::io::Error::other(
        "no free pair of TCP ports below the ephemeral range",
    ))
}

/// Runs pcscd in its own mount namespace with `dir/run` over /run/pcscd, logging to
/// `dir/pcscd.log` (without `-a`: its APDU log would show PINs).
fn spawn_daemon(dir: &Path) -> std::io::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("pcscd.log"))?;
    let script = format!(
        "mkdir -p /run/pcscd && mount --bind '{}' /run/pcscd && exec pcscd -f -c '{}'",
        dir.join("run").display(),
        dir.join("reader.conf").display()
    );
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

impl Pcscd {
    /// Starts pcscd in a private mount namespace with two vpcd slots on fresh ports,
    /// and waits (up to 10 s) until it accepts clients. Needs root (unshare, mount).
    pub fn start() -> std::io::Result<Pcscd> {
        Pcscd::start_named(b"Virtual PCD")
    }

    /// Like [`Pcscd::start`], with the readers' FRIENDLYNAME given as raw bytes (pcscd
    /// passes them through unchanged: a GBK name stays GBK), so tests can give a
    /// reader a name that is not UTF-8. The readers are named `FRIENDLY 00 00` and
    /// `FRIENDLY 00 01`.
    ///
    /// # Errors
    /// A name with `"`, a newline or NUL (reader.conf cannot carry them), the vpcd
    /// driver missing, or pcscd not starting.
    pub fn start_named(friendly: &[u8]) -> std::io::Result<Pcscd> {
        if friendly
            .iter()
            .any(|b| matches!(b, b'"' | b'\n' | b'\r' | 0))
        {
            return Err(std::io::Error::other(
                "a reader.conf FRIENDLYNAME cannot hold quotes, newlines or NUL",
            ));
        }
        if !Path::new(VPCD_DRIVER).exists() {
            return Err(std::io::Error::other(format!(
                "{VPCD_DRIVER} is missing: install vsmartcard-vpcd (the README's commands do)"
            )));
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("sscard-pcscd-{}-{n}", std::process::id()));
        let run = dir.join("run");
        std::fs::create_dir_all(&run)?;
        let port = free_port_pair()?;
        let conf = dir.join("reader.conf");
        let mut text = b"FRIENDLYNAME \"".to_vec();
        text.extend_from_slice(friendly);
        text.extend_from_slice(
            format!(
                "\"\nDEVICENAME /dev/null:0x{port:04X}\n\
                 LIBPATH {VPCD_DRIVER}\nCHANNELID 0x{port:04X}\n"
            )
            .as_bytes(),
        );
        std::fs::write(&conf, text)?;
        let child = spawn_daemon(&dir)?;
        let mut me = Pcscd {
            child: Some(child),
            dir,
            port,
            friendly: friendly.to_vec(),
        };
        me.wait_ready(Duration::from_secs(10))?;
        Ok(me)
    }

    fn wait_ready(&mut self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        let sock = self.socket();
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(std::io::Error::other(format!(
                        "pcscd exited ({status}); log: {}",
                        std::fs::read_to_string(self.dir.join("pcscd.log")).unwrap_or_default()
                    )));
                }
            }
            // The socket appears after the readers are registered.
            if sock.exists() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(std::io::Error::other(
            "pcscd did not create its socket within the timeout",
        ))
    }

    /// The client socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("run").join("pcscd.comm")
    }

    /// The environment a client needs to reach this daemon.
    pub fn env(&self) -> (&'static str, PathBuf) {
        ("PCSCLITE_CSOCK_NAME", self.socket())
    }

    /// The vpcd TCP port of a slot (0 or 1).
    pub fn port(&self, slot: u8) -> u16 {
        self.port + slot as u16
    }

    /// The reader name of a slot (of a daemon from [`Pcscd::start`]).
    pub fn reader_name(&self, slot: u8) -> &'static str {
        READER_NAMES[(slot as usize).min(1)]
    }

    /// The exact bytes of a slot's reader name, whatever FRIENDLYNAME was given.
    pub fn reader_name_bytes(&self, slot: u8) -> Vec<u8> {
        let mut n = self.friendly.clone();
        n.extend_from_slice(format!(" 00 {:02}", slot.min(1)).as_bytes());
        n
    }

    /// pcscd's own log (no APDUs: it would show PINs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pcscd.log")).unwrap_or_default()
    }

    /// Stops the daemon (as a crash or `systemctl stop` would: clients see NoService).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.socket());
        let _ = std::fs::remove_file(self.dir.join("run").join("pcscd.pid"));
    }

    /// Starts the daemon again on the same socket and ports (after [`Pcscd::stop`]).
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.child = Some(spawn_daemon(&self.dir)?);
        self.wait_ready(Duration::from_secs(10))
    }

    /// The private directory (socket, config, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
