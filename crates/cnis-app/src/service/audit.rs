//! Writing the audit, checking it, and reading it.
//!
//! A change writes its audit event in its own transaction, so the change
//! and its record commit together or not at all. A read (a child's page, a
//! search, a lookup) hands its event to one writer thread, which commits
//! every event waiting in one transaction (group commit) and then answers
//! each caller; the caller shows what it read only after that answer. So
//! an audit row is committed before the response that it records is sent,
//! and a read whose audit cannot be written fails with
//! [`ServiceError::AuditUnavailable`] and shows nothing.
//!
//! After each commit the chain's head (sequence number and hash) is
//! written to a checkpoint file outside the database, replaced atomically,
//! so that cutting the newest rows of the table, head and all, is caught
//! by `cnis audit verify`.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use cnis_store::audit::{self, ChainRow, Event, Head, Verification};
use cnis_store::db::Db;
use cnis_store::register as reg;
use serde::Serialize;

use super::{Actor, Permission, Result, Service, ServiceError, require};

type Job = (Event, oneshot::Sender<bool>);

/// What a read found, held back until the read's audit event is
/// committed: the value can be had only through [`Audited::wait`] (a
/// blocking thread) or [`Audited::committed`] (an async task), each of
/// which gives it only once the writer says the event is in the table. An
/// async caller so waits for the group commit without holding a thread.
#[must_use = "an audited read gives its value only once its audit event is committed"]
pub struct Audited<T> {
    value: T,
    receipt: oneshot::Receiver<bool>,
}

impl<T> Audited<T> {
    /// Blocks until the event is committed. Not on an async thread.
    pub fn wait(self) -> Result<T> {
        match self.receipt.blocking_recv() {
            Ok(true) => Ok(self.value),
            _ => Err(ServiceError::AuditUnavailable),
        }
    }

    /// Waits, without blocking a thread, until the event is committed.
    pub async fn committed(self) -> Result<T> {
        match self.receipt.await {
            Ok(true) => Ok(self.value),
            _ => Err(ServiceError::AuditUnavailable),
        }
    }
}

/// The audit writer and the checkpoint.
pub(crate) struct AuditLog {
    jobs: Mutex<Option<SyncSender<Job>>>,
    checkpoint: Arc<Checkpoint>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Checkpoint {
    path: PathBuf,
    /// The last head written, and the file, kept open.
    state: Mutex<(i64, Option<std::fs::File>)>,
}

/// A checkpoint is written over itself as one fixed-length record (JSON,
/// padded with spaces): one write at the start of a file kept open, not a
/// new file renamed into place at every group commit. A reader sees the old
/// record or the new one, as with a rename.
const CHECKPOINT_LEN: usize = 160;

impl Checkpoint {
    fn advance(&self, head: &Head) {
        let Ok(mut state) = self.state.lock() else { return };
        if head.seq <= state.0 {
            return;
        }
        match write_checkpoint(&self.path, &mut state.1, head) {
            Ok(()) => state.0 = head.seq,
            Err(e) => {
                state.1 = None;
                tracing::error!(error = %e, "could not write the audit checkpoint");
            }
        }
    }
}

fn write_checkpoint(path: &std::path::Path, file: &mut Option<std::fs::File>, head: &Head) -> std::io::Result<()> {
    let mut record = serde_json::to_string(head).map_err(std::io::Error::other)?;
    if record.len() >= CHECKPOINT_LEN {
        return Err(std::io::Error::other("audit head too long for its checkpoint record"));
    }
    record.extend(std::iter::repeat_n(' ', CHECKPOINT_LEN - 1 - record.len()));
    record.push('\n');
    if file.is_none() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let f = options.open(path)?;
        write_at_start(&f, record.as_bytes())?;
        // A longer file of an older layout loses its tail.
        f.set_len(CHECKPOINT_LEN as u64)?;
        *file = Some(f);
        return Ok(());
    }
    let Some(f) = file.as_ref() else { return Err(std::io::Error::other("checkpoint file not open")) };
    write_at_start(f, record.as_bytes())
}

fn write_at_start(f: &std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.write_all_at(bytes, 0)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, Write};
        let mut f = f;
        f.seek(std::io::SeekFrom::Start(0))?;
        f.write_all(bytes)
    }
}

/// Reads a checkpoint file; `None` when there is none yet.
pub fn read_checkpoint(path: &std::path::Path) -> std::io::Result<Option<Head>> {
    match std::fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(s.trim_end())
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn writer(db: Arc<Db>, jobs: Receiver<Job>, checkpoint: Arc<Checkpoint>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let events: Vec<Event> = batch.iter().map(|(e, _)| e.clone()).collect();
        let result = db.write(|tx| audit::append(tx, &events));
        let ok = match result {
            Ok(head) => {
                checkpoint.advance(&head);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "could not write audit events");
                false
            }
        };
        for (_, reply) in batch {
            let _ = reply.send(ok);
        }
    }
}

impl AuditLog {
    /// Starts the writer on a connection of its own, so that a read's
    /// audit never waits for a connection behind the reads themselves.
    pub(crate) fn start(backend: &cnis_store::db::Backend, checkpoint_file: PathBuf) -> Result<AuditLog> {
        let db = Arc::new(Db::open_sized(backend.clone(), 1, cnis_store::db::WalGuard::Elsewhere)?);
        let head = db.read(audit::head)?;
        let on_file = read_checkpoint(&checkpoint_file).map_err(|source| ServiceError::File {
            what: "audit checkpoint",
            path: checkpoint_file.clone(),
            source,
        })?;
        if let Some(c) = &on_file
            && c.seq > head.seq
        {
            tracing::error!(
                checkpoint = c.seq,
                table = head.seq,
                "the audit table ends before the checkpoint written outside it: rows were cut; run `cnis audit verify`"
            );
        }
        let checkpoint =
            Arc::new(Checkpoint { path: checkpoint_file, state: Mutex::new((on_file.map_or(0, |c| c.seq), None)) });
        checkpoint.advance(&head);
        let (tx, rx) = sync_channel::<Job>(65_536);
        let c = checkpoint.clone();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(db, rx, c))
            .map_err(|source| ServiceError::File { what: "audit writer thread", path: PathBuf::new(), source })?;
        Ok(AuditLog { jobs: Mutex::new(Some(tx)), checkpoint, thread: Mutex::new(Some(thread)) })
    }

    /// Hands a read's event to the writer; `value` comes out of the
    /// result once the event is committed.
    pub(crate) fn submit<T>(&self, event: Event, value: T) -> Result<Audited<T>> {
        let sender = self.jobs.lock().ok().and_then(|j| j.clone()).ok_or(ServiceError::AuditUnavailable)?;
        let (reply, receipt) = oneshot::channel();
        sender.send((event, reply)).map_err(|_| ServiceError::AuditUnavailable)?;
        Ok(Audited { value, receipt })
    }

    /// Records a read's event and waits until it is committed.
    pub(crate) fn record(&self, event: Event) -> Result<()> {
        self.submit(event, ())?.wait()
    }

    /// Moves the checkpoint on after a change committed its own event.
    pub(crate) fn advance(&self, head: &Head) {
        self.checkpoint.advance(head);
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Ok(mut j) = self.jobs.lock() {
            j.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// What a subject access request returns: every event about the child
/// (who, when, what kind) and the history of their entries. Search terms
/// and other children shown beside them are left out: they may be about
/// someone else.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubjectAccessExport {
    /// The child.
    pub child_id: String,
    /// Every audited event that touched the child.
    pub events: Vec<ChainRow>,
    /// Each entry's history (optional content included: it is the
    /// child's own).
    pub entries: Vec<super::entries::EntryHistory>,
}

impl Service {
    /// Builds an event for an actor.
    pub(crate) fn event(
        &self,
        actor: &Actor,
        action: &str,
        outcome: &str,
        subjects: Vec<String>,
        detail: serde_json::Value,
    ) -> Event {
        Event {
            at: reg::now_ms(),
            actor: Some(actor.user_id),
            actor_role: actor.role.code().into(),
            council: actor.council.map(|c| c.to_string()),
            action: action.into(),
            outcome: outcome.into(),
            subjects,
            detail,
        }
    }

    /// Checks the whole chain against the checkpoint file (console and
    /// auditors).
    pub fn verify_audit(&self) -> Result<Verification> {
        let checkpoint = read_checkpoint(&self.config.checkpoint_file).map_err(|source| ServiceError::File {
            what: "audit checkpoint",
            path: self.config.checkpoint_file.clone(),
            source,
        })?;
        Ok(self.db.read(|tx| audit::verify(tx, checkpoint.as_ref()))?)
    }

    /// The chain from `after`, for an auditor: who did what, no content.
    pub fn audit_chain(&self, actor: &Actor, after: i64, limit: i64) -> Result<Vec<ChainRow>> {
        require(actor, Permission::ReadAudit)?;
        let rows = self.db.read(|tx| audit::chain(tx, after, limit.clamp(1, 1000)))?;
        self.audit.record(self.event(actor, "audit.read", "ok", vec![], serde_json::json!({ "after": after })))?;
        Ok(rows)
    }

    /// Everything recorded about one child, for a subject access request:
    /// the console, or a team manager of a council whose register holds the
    /// child (an auditor reads who did what, never the child's record).
    pub fn subject_access_export(&self, actor: Option<&Actor>, child_id: &str) -> Result<SubjectAccessExport> {
        let child = cnis_core::ChildId::parse(child_id)
            .map_err(|_| ServiceError::invalid("child_id", "Enter a child id like the ones cnis shows"))?
            .to_string();
        if let Some(a) = actor {
            require(a, Permission::ReadRestricted)?;
            let council = super::scope(a)?.to_string();
            let held =
                self.db.read(|tx| Ok(reg::entries_for_child(tx, &child)?.iter().any(|e| e.council == council)))?;
            if !held {
                self.audit.record(self.event(
                    a,
                    "audit.subject_access_export",
                    "refused",
                    vec![],
                    serde_json::json!({}),
                ))?;
                return Err(ServiceError::Forbidden("This child is not on your council's register."));
            }
        }
        let export = self.db.read(|tx| {
            let events = audit::about_child(tx, &child)?;
            let mut entries = Vec::new();
            for e in reg::entries_for_child(tx, &child)? {
                entries
                    .push(super::entries::EntryHistory { entry_id: e.id, rows: reg::entry_history(tx, e.id, true)? });
            }
            Ok(SubjectAccessExport { child_id: child.clone(), events, entries })
        })?;
        let event = Event {
            at: reg::now_ms(),
            actor: actor.map(|a| a.user_id),
            actor_role: actor.map_or("console".into(), |a| a.role.code().into()),
            council: actor.and_then(|a| a.council).map(|c| c.to_string()),
            action: "audit.subject_access_export".into(),
            outcome: "ok".into(),
            subjects: vec![child],
            detail: serde_json::json!({}),
        };
        self.audit.record(event)?;
        Ok(export)
    }

    /// Events recorded in all (tests and benchmarks).
    pub fn audit_count(&self) -> Result<i64> {
        Ok(self.db.read(audit::count)?)
    }
}
