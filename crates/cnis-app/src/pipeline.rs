//! Parsing on one thread while the other consumes: used by every loader.

/// Runs `read` (parsing a file) on its own thread and hands what it parses,
/// in batches, to `insert` (the database, or the linkage builder) on this
/// one, so that parsing and consuming use both cores. An error from `insert`
/// stops the reader at its next batch; the reader then returns its own
/// error, and the cause is logged.
pub(crate) fn pipelined<T: Send, R: Send, E: Send>(
    insert: &mut dyn FnMut(T) -> Result<(), String>,
    read: impl FnOnce(&mut dyn FnMut(T) -> Result<(), String>) -> Result<R, E> + Send,
) -> Result<R, E> {
    const BATCH: usize = 4096;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(8);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let result = read(&mut |item| {
                batch.push(item);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send(full).map_err(|_| "the consumer stopped taking rows".to_string())?;
                }
                Ok(())
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            result
        });
        let mut failed = None;
        for batch in rx.iter() {
            if let Some(e) = batch.into_iter().map(&mut *insert).find_map(Result::err) {
                failed = Some(e);
                break;
            }
        }
        drop(rx);
        let result = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Some(e) = failed {
            // The reader saw the closed channel as a sink error; report the cause.
            tracing::error!(error = %e, "storing a parsed row failed");
        }
        result
    })
}
