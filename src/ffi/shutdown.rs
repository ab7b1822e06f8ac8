//! Process life: `midge_shutdown`.

use super::result::{guard, midge_result};

/// Stops and joins every thread midge started (the I/O thread, its DNS resolver threads
/// and the callback dispatcher threads), so that no midge thread runs afterwards: call it
/// before `dlclose` of libmidge, or before `fork()` when the child is to use midge too.
///
/// Every client must be freed first (`midge_client_free`): while one exists, nothing is
/// stopped and the result is `MIDGE_RESULT_INVALID_ARGUMENT`. Called from a callback (one
/// of midge's threads) it returns `MIDGE_RESULT_WOULD_DEADLOCK`. The callbacks still due to
/// freed clients (their `drop_user_data`) run before it returns.
///
/// Afterwards every function keeps working: objects without a thread (options, messages,
/// properties) are unaffected, and the next `midge_client_new` starts the threads again.
/// Safe to call any number of times; a call that finds nothing running returns at once.
///
/// After `fork()` in a process where midge's threads run (any client exists or existed
/// since the last `midge_shutdown`), the child has none of them: it must not call any
/// midge function, not even a `_free` of its copy of the parent's objects; it may `exec`
/// (a program that then uses midge is fine). After `midge_shutdown`, and before the next
/// `midge_client_new`, `fork()` is safe: parent and child may both create clients.
#[unsafe(no_mangle)]
pub extern "C" fn midge_shutdown() -> midge_result {
    guard(|| Ok(crate::runtime::shutdown()?))
}
