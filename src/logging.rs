//! Where log lines go: stderr, human or JSON, through a batching writer ([`batched`]) so that
//! no request ever waits on a write (the access log is one line per request). When the output
//! falls behind and the buffer is full, lines are dropped and counted
//! (`gatehouse_log_lines_dropped_total`), never waited for.

mod batched;

use std::sync::OnceLock;

use crate::config::LogConfig;
use batched::{BatchedWriter, WriterThread};

/// Bytes of lines waiting for the writer thread before new ones are dropped: about 30,000
/// access lines, a second of a busy gateway's output.
const PENDING_LIMIT: usize = 8 << 20;

/// The writer of the first [`init`]: for its count of dropped lines, and for lines written
/// as they are ([`write_plain_line`]) when the output is plain text.
static WRITER: OnceLock<Output> = OnceLock::new();

struct Output {
    writer: BatchedWriter,
    /// Human lines without colours: what [`write_plain_line`] writes looks like `tracing`'s.
    plain_text: bool,
}

/// Keeps the writer thread; dropping it writes out what is pending. Hold it until the server
/// has stopped.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WriterThread>,
}

/// Logs to stderr as `config` says (human or JSON lines); `RUST_LOG` overrides the level.
///
/// SECURITY: other crates' records are kept only at `info` and above, whatever the filter asks:
/// at `debug` Pingora prints every request and response head (cookies, `Authorization`) and
/// bodies. Gatehouse's own records never carry a token, cookie value or secret.
pub fn init(config: &LogConfig) -> LogGuard {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let dependencies_capped = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || meta.target().starts_with("gatehouse")
    });
    let (writer, thread) = match batched::batched(std::io::stderr(), PENDING_LIMIT) {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("cannot start the log writer thread: {error}");
            return LogGuard { _writer: None };
        }
    };
    // Colours only on a terminal: files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let format = tracing_subscriber::fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(ansi);
    let format = if config.json {
        format.json().boxed()
    } else {
        format.boxed()
    };
    // Ignore the errors: a second call in the same process keeps the first subscriber (and its
    // writer: this one's thread is then stopped at once). Only dependencies log through `log`
    // (Pingora does), so its records stop at `info` at the source.
    let _ = tracing_log::LogTracer::builder()
        .with_max_level(tracing_log::log::LevelFilter::Info)
        .init();
    let installed = tracing_subscriber::registry()
        .with(format.with_filter(dependencies_capped).with_filter(filter))
        .try_init()
        .is_ok();
    if !installed {
        return LogGuard { _writer: None };
    }
    let _ = WRITER.set(Output {
        writer,
        plain_text: !ansi && !config.json,
    });
    LogGuard {
        _writer: Some(thread),
    }
}

/// Lines dropped because the writer's queue was full, since start.
pub(crate) fn dropped_lines() -> u64 {
    WRITER.get().map_or(0, |o| o.writer.dropped_lines())
}

/// Writes `line` (whole, with its newline) to the log as it is, if the log is plain human text
/// written by [`init`]'s writer; `false` otherwise (the caller then logs through `tracing`).
/// For the access log, whose line `tracing`'s formatter costs several times more to write.
pub(crate) fn write_plain_line(line: &[u8]) -> bool {
    use std::io::Write;
    match WRITER.get() {
        Some(output) if output.plain_text => {
            let _ = (&output.writer).write_all(line);
            true
        }
        _ => false,
    }
}
