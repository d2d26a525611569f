//! Where log lines go: stderr, human or JSON, through a bounded non-blocking writer, so that no
//! request ever waits on a write (the access log is one line per request). When the writer
//! thread falls behind and its queue is full, lines are dropped and counted
//! (`gatehouse_log_lines_dropped_total`), never waited for.

use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use crate::config::LogConfig;

/// Lines queued for the writer thread before new ones are dropped: about 30 MB of access lines,
/// a few seconds of a busy gateway's output.
const QUEUED_LINES: usize = 128_000;

/// Counts the lines the writer dropped; set once, by the first [`init`].
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the writer thread; dropping it writes out what is still queued (up to a second).
/// Hold it until the server has stopped.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
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
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("gatehouse-log")
        .finish(std::io::stderr());
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
    // writer: this one's guard is then dropped at once). Only dependencies log through `log`
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
    let _ = DROPPED.set(writer.error_counter());
    LogGuard {
        _writer: Some(guard),
    }
}

/// Lines dropped because the writer's queue was full, since start.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tracing_appender::non_blocking::NonBlockingBuilder;

    /// A writer that blocks until told to go on, like a stalled pipe or a full disk.
    struct Stalled(std::sync::mpsc::Receiver<()>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_instead_of_blocking_the_caller() {
        let (go_on, wait) = std::sync::mpsc::channel();
        let (mut writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(4)
            .finish(Stalled(wait));
        // The writer thread takes one line and blocks; four more fill the queue; the rest are
        // dropped, and every call returns at once.
        for _ in 0..20 {
            writer.write_all(b"line\n").unwrap();
        }
        let dropped = writer.error_counter().dropped_lines();
        assert!((15..=16).contains(&dropped), "dropped {dropped}");
        drop(go_on);
        drop(guard);
    }
}
