//! SQLite's allocations through mimalloc, as Rust's are (`main.rs`).
//!
//! sqlx copies every value of every row it reads from SQLite (`sqlite3_value_dup`, one
//! allocation per text or blob) on the connection's thread, and the copy is freed on a tokio
//! thread. The bundled SQLite allocated with glibc's malloc, which took 8.5 % of the server's
//! samples under the dashboard query's load, and 14.2 % once the extension chain was gone
//! (profiles in docs/benchmarks.md). SQLite's documented allocator interface (`SQLITE_CONFIG_MALLOC`)
//! takes mimalloc's functions instead.
use libmimalloc_sys as mi;
use libsqlite3_sys as ffi;
use std::os::raw::{c_int, c_void};

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    // SAFETY: mimalloc's malloc takes any size; SQLite never asks for a negative one.
    unsafe { mi::mi_malloc(usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    // SAFETY: SQLite frees only what x_malloc or x_realloc returned.
    unsafe { mi::mi_free(p) }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: as x_malloc and x_free.
    unsafe { mi::mi_realloc(p, usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    // SAFETY: p came from x_malloc or x_realloc.
    let n = unsafe { mi::mi_usable_size(p) };
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    // SAFETY: a pure function of the size.
    let n = unsafe { mi::mi_good_size(usize::try_from(n).unwrap_or(0)) };
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

fn methods() -> ffi::sqlite3_mem_methods {
    ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    }
}

/// Makes SQLite allocate through mimalloc. SQLite accepts this only before it initialises,
/// that is before the process's first SQLite connection, and `sqlite3_config` is not safe
/// beside another thread's use of SQLite: call it first thing in `main`. Whether SQLite took
/// it; when it did not (it had started already), it keeps its own allocator, which is only
/// slower.
pub fn use_mimalloc_for_sqlite() -> bool {
    let m = methods();
    // SAFETY: SQLite copies the methods before it returns; it refuses (SQLITE_MISUSE) once
    // initialised.
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &m as *const ffi::sqlite3_mem_methods,
        )
    };
    rc == ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether SQLite's allocations come from mimalloc (initialises SQLite when it has not
    /// started).
    fn sqlite_uses_mimalloc() -> bool {
        // SAFETY: a block from SQLite's allocator, asked about and given back.
        unsafe {
            let p = ffi::sqlite3_malloc(64);
            if p.is_null() {
                return false;
            }
            let ours = mi::mi_is_in_heap_region(p);
            ffi::sqlite3_free(p);
            ours
        }
    }

    const CHILD: &str = "WI_SQLITE_ALLOC_CHILD";

    /// In a process of its own (this test binary again, running only this test), where nothing
    /// has touched SQLite yet: SQLite takes mimalloc, allocates from it, and reads and writes
    /// values large and small through it. Once SQLite has started, a second configuration is refused.
    #[test]
    fn sqlite_allocates_through_mimalloc_when_configured_first() {
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "db::alloc::tests::sqlite_allocates_through_mimalloc_when_configured_first",
                    "--nocapture",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        assert!(use_mimalloc_for_sqlite());
        assert!(sqlite_uses_mimalloc());
        // Started now: a second configuration is refused.
        assert!(!use_mimalloc_for_sqlite());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use sea_orm::{ConnectionTrait, Statement};
            let db = crate::db::connect("sqlite::memory:", None).await.unwrap();
            let big = "x".repeat(1 << 20);
            let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
                       SELECT i, ? || i AS t FROM n";
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    sea_orm::DatabaseBackend::Sqlite,
                    sql,
                    [big.clone().into()],
                ))
                .await
                .unwrap();
            assert_eq!(rows.len(), 200);
            let last: String = rows[199].try_get("", "t").unwrap();
            assert_eq!(last, format!("{big}200"));
        });
    }
}
