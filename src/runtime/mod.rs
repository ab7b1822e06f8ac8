//! `runtime`: threads, channels, timers and reconnection driving [`crate::protocol`] over
//! [`crate::transport`].
//!
//! Threads: one I/O thread (`midge-io`) running every client's socket through one
//! poller; a pool of dispatcher threads (`midge-dispatch-N`) running application callbacks,
//! each client a serial executor on it, which grows while every thread is busy (so a
//! blocked callback never stalls another client) and shrinks when threads stay idle
//! ([`dispatch_threads`]); and the resolver's small pool for DNS. Callbacks never run on
//! the I/O thread and never with a midge lock held. [`shutdown`] stops and joins them all
//! (no client may exist); the next client starts them again.

mod backoff;
mod client;
mod completion;
mod dispatch;
mod event;
mod memory;
mod reactor;
mod servers;
mod shared;
mod shutdown;
mod spin;

pub use backoff::ReconnectPolicy;
pub use client::{Client, ClientOptions, DEFAULT_LINGER};
pub use completion::Completion;
pub(crate) use completion::start_and_wait;
pub use dispatch::{Handler, MIN_THREADS, dispatch_threads};
pub use event::{ClientEvent, ClientStats, IoStats, LogLevel};
pub use servers::Redirect;
pub use shutdown::shutdown;

pub use memory::MemoryStats;
