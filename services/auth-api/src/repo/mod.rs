//! auth-api's queries. Every function takes the tenant explicitly, except the OAuth callback's
//! lookup by state, where the state itself is the capability.

pub mod operation_logs;
pub mod platforms;
pub mod sync_tasks;
