//! A log writer that never makes the caller wait and writes lines in batches, as nginx's
//! `access_log ... buffer= flush=` does: a line is appended to a bounded in-memory buffer
//! (dropped and counted when the buffer is full), and one thread writes the buffer out, a few
//! milliseconds after the first line of a batch arrives.
//!
//! Written here because the queue-per-line writers (tracing-appender's `non_blocking`) wake
//! their thread and call `write(2)` once per line: for the access log, one futex wake and one
//! write per request, about 10 µs of a proxied request's 34 on the benchmark VM
//! (`benches/load/run.sh`, `LOG_LEVEL=info` against `warn`).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer thread lets a batch gather after its first line: the most a line waits.
const GATHER: Duration = Duration::from_millis(5);

/// Shared between the writers (any thread logging) and the writer thread.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when a line arrives in an empty buffer, and at close.
    arrived: Condvar,
    limit: usize,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only bytes behind: keep using them.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The logging side: `tracing`'s formatter writes each event through a `&BatchedWriter`.
#[derive(Clone)]
pub(crate) struct BatchedWriter {
    shared: Arc<Shared>,
}

impl BatchedWriter {
    /// Lines dropped because `limit` bytes were already waiting.
    pub(crate) fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Write for &BatchedWriter {
    /// Takes one whole line (tracing's formatter writes each event in one call).
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        if pending.bytes.len() + line.len() > self.shared.limit {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        let first = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        drop(pending);
        if first {
            self.shared.arrived.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Owns the writer thread; dropping it writes out what is pending and stops the thread.
pub(crate) struct WriterThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A writer into a buffer of at most `limit` bytes, and the thread that empties it into `out`.
pub(crate) fn batched<W: Write + Send + 'static>(
    out: W,
    limit: usize,
) -> std::io::Result<(BatchedWriter, WriterThread)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        arrived: Condvar::new(),
        limit,
        dropped: AtomicU64::new(0),
    });
    let thread = std::thread::Builder::new()
        .name("gatehouse-log".into())
        .spawn({
            let shared = shared.clone();
            move || write_batches(&shared, out)
        })?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        WriterThread {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: waits for a first line, lets the batch gather, writes it, until closed
/// with nothing left. Write errors are ignored: there is nowhere left to report them.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.closed {
            pending = shared
                .arrived
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
        if pending.bytes.is_empty() {
            return;
        }
        if !pending.closed {
            drop(pending);
            std::thread::sleep(GATHER);
            pending = shared.lock();
        }
        // Swap buffers: the next batch fills the one just written, without reallocating.
        batch.clear();
        std::mem::swap(&mut batch, &mut pending.bytes);
        drop(pending);
        let _ = out.write_all(&batch).and_then(|()| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// An output that records each write, and can be held stalled (a full pipe, a slow disk).
    #[derive(Clone, Default)]
    struct Recorded {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        stall: Arc<Mutex<()>>,
        /// Writes begun (counted before waiting out a stall).
        begun: Arc<AtomicU64>,
    }

    impl Write for Recorded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.begun.fetch_add(1, Ordering::SeqCst);
            let _stalled = self.stall.lock().unwrap();
            self.writes.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn written(out: &Recorded) -> Vec<u8> {
        out.writes.lock().unwrap().concat()
    }

    #[test]
    fn lines_arriving_together_leave_in_one_write_and_in_order() {
        let out = Recorded::default();
        let (writer, thread) = batched(out.clone(), 1 << 20).unwrap();
        for i in 0..100 {
            (&writer)
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(thread);
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(written(&out), expected.as_bytes());
        assert!(
            out.writes.lock().unwrap().len() <= 2,
            "one batch (two if the thread woke between lines)"
        );
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_more() {
        let out = Recorded::default();
        let (writer, _thread) = batched(out.clone(), 1 << 20).unwrap();
        (&writer).write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while written(&out).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(written(&out), b"alone\n");
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_instead_of_blocking_the_caller() {
        let out = Recorded::default();
        let stalled = out.stall.lock().unwrap();
        let (writer, thread) = batched(out.clone(), 64).unwrap();
        // 16-byte lines: the writer thread takes the first batch and blocks writing it; then
        // four lines fill the 64-byte buffer and the rest are dropped, each call returning.
        let (done, finished) = mpsc::channel();
        let begun = out.begun.clone();
        std::thread::spawn(move || {
            (&writer).write_all(b"first line 0001\n").unwrap();
            while begun.load(Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            for _ in 0..20 {
                (&writer).write_all(b"later line 0002\n").unwrap();
            }
            done.send(writer.dropped_lines()).unwrap();
        });
        let dropped = finished
            .recv_timeout(Duration::from_secs(5))
            .expect("a stalled output never blocks the logging thread");
        assert_eq!(dropped, 16);
        drop(stalled);
        drop(thread);
        assert_eq!(
            written(&out).len(),
            5 * 16,
            "the first line and the four that fit"
        );
    }
}
