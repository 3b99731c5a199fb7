//! Conformance checking (pure): how well a process model and the history agree. [`net`] is
//! the workflow net every model becomes (a discovered process tree in `discovery`, a workflow's
//! steps in `workflows`); [`replay`] is token-based replay on it, with pm4py's fitness and
//! escaping-edges precision. This room imports nothing of the others.
pub mod net;
pub mod replay;

pub use net::Net;
pub use replay::{Conformance, Prefixes, Replayer, check, check_prefixes};

/// Below this precision a model allows far more than the log shows (a flower model of 20
/// activities scores about 0.14): simulations and imports say so.
pub const LOW_PRECISION: f64 = 0.5;

/// The warning a model gets when it allows far more than the history shows.
pub fn precision_warning(c: &Conformance) -> Option<String> {
    (c.traces > 0 && c.precision < LOW_PRECISION).then(|| {
        format!(
            "the model allows far more than the history shows: precision {:.2} (escaping \
             edges; fitness {:.3}, {} of {} cases fit), so predictions that draw routes from it \
             are weak",
            c.precision, c.fitness, c.fitting_traces, c.traces
        )
    })
}
