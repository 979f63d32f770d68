//! What the uploader tells the rest of the monitor: a dump S3 refused for
//! good (`dump-quarantined`), or uploads blocked for now (`uploads-blocked`).

use std::path::PathBuf;

use crate::core::event::{CaptureOutcome, DumpRef, Kind, Report};
use crate::io::spool::Meta;

/// Something people should hear about; take them with
/// [`Uploader::take_notices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// S3 refused this dump for good; it waits in the quarantine folder.
    Quarantined {
        key: String,
        /// `s3://bucket/key`.
        uri: String,
        /// Where it is kept now.
        file: PathBuf,
        meta: Box<Meta>,
        /// S3's status, code and message (empty when S3 did not answer).
        status: u16,
        code: String,
        message: String,
    },
    /// Nothing can be uploaded for now (sent once per episode): the bucket
    /// refuses everything, the credentials are refused, or S3 is out of
    /// reach: the `uploads-blocked` event.
    Blocked { why: String },
}

impl Notice {
    /// The event for notifiers: `dump-quarantined`, or `uploads-blocked`
    /// (told once per episode; the dumps wait in the spool).
    pub fn report(&self, unix_ms: u64) -> Option<Report> {
        let (key, uri, file, meta, status, code, message) = match self {
            Notice::Quarantined {
                key,
                uri,
                file,
                meta,
                status,
                code,
                message,
            } => (key, uri, file, meta, status, code, message),
            Notice::Blocked { why } => {
                return Some(Report::plain(
                    Kind::UploadsBlocked,
                    String::new(),
                    0,
                    unix_ms,
                    format!("no dump can be uploaded for now: {why}; they wait in the spool, nothing is lost"),
                ))
            }
        };
        let detail = format!(
            "S3 refused the {} dump for good ({status} {code}: {message}); kept in quarantine, retried hourly",
            meta.reason
        );
        Some(Report {
            bytes: meta.rss_anon_bytes.unwrap_or(0),
            baseline_bytes: meta.baseline_bytes,
            dump: Some(DumpRef {
                outcome: CaptureOutcome::Spooled,
                key: Some(key.clone()),
                uri: Some(uri.clone()),
                console_url: None,
                path: Some(file.display().to_string()),
            }),
            ..Report::plain(
                Kind::DumpQuarantined,
                meta.target.clone(),
                meta.pid,
                unix_ms,
                detail,
            )
        })
    }
}
