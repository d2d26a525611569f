//! Work done once before serving: running startup futures, and checking that the database
//! has the schema the config describes.

use crate::config::Config;
use crate::store::{self, StoreError};

/// Runs `future` on a runtime that is dropped afterwards (startup work only: Pingora builds its
/// own runtimes for serving).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for startup work")
        .block_on(future)
}

/// Checks that the database has the configured tables and columns. An unreachable database is
/// only a warning (requests then get 503 until it is back); a schema mismatch is fatal.
pub(crate) fn check_schema(config: &Config) -> Result<(), String> {
    if let Some(path) = store::missing_sqlite_file(config.database.url.expose()) {
        return Err(format!(
            "database.url: the SQLite file {} does not exist. Point database.url (or \
             GATEHOUSE_DATABASE_URL) at Better Auth's database, or create one with `gatehouse migrate`",
            path.display()
        ));
    }
    let probe = store::open(&config.database).map_err(|e| e.to_string())?;
    match block_on(probe.find_session("")) {
        Ok(_) => Ok(()),
        Err(StoreError::Database(sqlx::Error::Database(e))) => {
            let fields = &config.better_auth.additional_fields;
            let declared = if fields.user.is_empty() && fields.session.is_empty() {
                String::new()
            } else {
                " If it names a column of better_auth.user/session.additional_fields (or a \
                 plugin's), add that column, as Better Auth's migrator would, or remove the field."
                    .to_owned()
            };
            Err(format!(
                "the database does not match database.schema: {e}. Point database.url at Better \
                 Auth's database, set database.schema to the layout it uses, or create the schema \
                 with `gatehouse migrate`.{declared}"
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "database unreachable at startup; session lookups get 503 until it answers");
            Ok(())
        }
    }
}
