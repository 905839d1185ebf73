//! Our ids, one type each, so that a tenant's id cannot be passed where a lead's is expected.
//! They are `i64` in the database and numbers on the wire (`#[serde(transparent)]`); the
//! repositories unwrap them with [`get`](TenantId::get) where they bind a statement.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The id as the database stores it.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id! {
    /// A merchant account; every row and every query is scoped by it.
    TenantId
}
id! {
    /// One buyer-lead (`t_order_lead.id`).
    LeadId
}
id! {
    /// One shop's platform authorization (`t_ecom_platform_auth.id`; `platformId` on the API).
    PlatformId
}
id! {
    /// A user of the product, as the gateway's token names them (`sub`).
    UserId
}
id! {
    /// One sync task (`t_ecom_sync_task.id`).
    SyncTaskId
}

impl UserId {
    /// The system itself (the scheduler, the workers), where a table records a user id for
    /// every change: 0, which no user's token carries.
    pub const SYSTEM: UserId = UserId::new(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_bare_number_on_the_wire() {
        let id = LeadId::new(42);
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("42"));
        assert_eq!(serde_json::from_str::<LeadId>("42").ok(), Some(id));
        assert_eq!(id.to_string(), "42");
    }
}
