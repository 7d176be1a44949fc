//! The cross-crate tests, in one test binary: the client against the fake and scripted servers,
//! and the generated types against the spec. One binary links once, which on a 2-core machine
//! saves a link per former test file.

mod client_support;

mod client_errors;
mod client_faults;
mod client_filters;
mod client_generic;
mod client_operations;
mod client_outcomes;
mod client_pagination;
mod client_secrets;
mod client_sync;
mod client_traces;
mod client_update_clears;
mod client_wire;
mod types_match_spec;
mod user_agent_pattern;
