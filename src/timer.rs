//! Start-up phase timings, printed to stderr when `WASIPY_LOG=debug`.

use std::time::Instant;

/// Prints how long after start each phase ended, when enabled.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    start: Instant,
    enabled: bool,
}

impl Timer {
    pub fn new(enabled: bool) -> Self {
        Self {
            start: Instant::now(),
            enabled,
        }
    }

    /// A timer that prints nothing (child interpreters, probes).
    pub fn off() -> Self {
        Self::new(false)
    }

    pub fn mark(&self, what: &str) {
        if self.enabled {
            eprintln!(
                "wasipy: {:>8.2} ms {what}",
                self.start.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}
