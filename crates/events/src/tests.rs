//! Contract tests: the committed schemas and examples in `proto-events/` match the types.

use std::path::PathBuf;

use super::*;

fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto-events")
}

#[test]
fn committed_schemas_match_the_rust_types() {
    for (file, generated) in all_schemas() {
        let path = proto_dir().join("schemas").join(file);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} missing ({e}); run `leadctl schemas`", path.display()));
        let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(
            committed, generated,
            "{file} differs from the Rust types: run `leadctl schemas` and review the diff"
        );
    }
}

fn example<E: Event>(file: &str) -> CloudEvent<E> {
    let path = proto_dir().join("examples").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    CloudEvent::<E>::from_slice(text.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn committed_examples_parse_as_their_events() {
    let e = example::<SyncRequestedV1>("v1/sync-requested.json");
    assert_eq!(e.data.platform_type, leadgen_domain::PlatformType::Taobao);
    let e = example::<RawOrdersFetchedV1>("v1/raw-orders-fetched.json");
    assert!(!e.data.raw_order_ids.is_empty());
    let v1 = example::<LeadIdentifiedV1>("v1/lead-identified.json");
    assert!(v1.data.contact.masked.contains('*'));
    let e = example::<LeadIdentifiedV2>("v2/lead-identified.json");
    // Both versions of one lead's announcement are built from one snapshot.
    assert_eq!(
        (v1.data.lead_id, v1.data.score),
        (e.data.lead.lead_id, e.data.lead.score)
    );
    assert!(e.data.lead.contact.masked.contains('*'));
    assert!(!e.data.lead.reasons.is_empty());
    let scored = |lead: &crate::lead::BuyerLead| {
        leadgen_domain::scoring::combined_score(lead.intention, lead.contact_validity.validity)
    };
    assert_eq!(
        e.data.lead.score,
        scored(&e.data.lead),
        "a score the code gives"
    );
    let e = example::<LeadUpdatedV1>("v1/lead-updated.json");
    assert!(!e.data.changes.is_empty());
    assert_eq!(
        e.data.lead.score,
        scored(&e.data.lead),
        "a score the code gives"
    );
    let e = example::<LeadRemovedV1>("v1/lead-removed.json");
    assert_eq!(e.data.reason, LeadRemovalReason::ShopHistoryPurged);
    // Leads merge into the lowest id.
    assert!(e.data.merged_lead_ids.iter().all(|m| *m > e.data.lead_id));
    assert_eq!(e.data.version, Some(14));
    let e = example::<PlatformChangedV1>("v1/platform-changed.json");
    assert_eq!(e.data.status, leadgen_domain::AuthStatus::Revoked);
    assert!(e.data.history_purge_at.is_some());
}

#[test]
fn envelopes_round_trip_and_reject_the_wrong_type() {
    let event = CloudEvent::new(
        "auth-api",
        leadgen_domain::TenantId::new(7),
        SyncRequestedV1 {
            sync_task_id: leadgen_domain::SyncTaskId::new(1),
            platform_id: leadgen_domain::PlatformId::new(2),
            platform_type: leadgen_domain::PlatformType::Taobao,
            trigger: leadgen_domain::SyncTrigger::Manual,
            window_start: chrono::DateTime::UNIX_EPOCH,
            window_end: chrono::Utc::now(),
            requested_by: Some(leadgen_domain::UserId::new(7)),
        },
    );
    assert_eq!(event.subject.as_deref(), Some("sync-task/1"));
    let bytes = serde_json::to_vec(&event).unwrap();
    let back = CloudEvent::<SyncRequestedV1>::from_slice(&bytes).unwrap();
    assert_eq!(back, event);
    let wrong = CloudEvent::<RawOrdersFetchedV1>::from_slice(&bytes);
    assert!(wrong.is_err());
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["type"], "com.cunkebao.leadgen.sync.requested.v1");
    assert_eq!(json["data"]["platformType"], "TAOBAO");
}

#[test]
fn the_asyncapi_document_names_every_event_its_schema_and_example() {
    let doc = std::fs::read_to_string(proto_dir().join("asyncapi.yaml")).unwrap();
    for (key, file) in [
        (SyncRequestedV1::ROUTING_KEY, SyncRequestedV1::SCHEMA_FILE),
        (
            RawOrdersFetchedV1::ROUTING_KEY,
            RawOrdersFetchedV1::SCHEMA_FILE,
        ),
        (LeadIdentifiedV1::ROUTING_KEY, LeadIdentifiedV1::SCHEMA_FILE),
        (LeadIdentifiedV2::ROUTING_KEY, LeadIdentifiedV2::SCHEMA_FILE),
        (LeadUpdatedV1::ROUTING_KEY, LeadUpdatedV1::SCHEMA_FILE),
        (LeadRemovedV1::ROUTING_KEY, LeadRemovedV1::SCHEMA_FILE),
        (
            PlatformChangedV1::ROUTING_KEY,
            PlatformChangedV1::SCHEMA_FILE,
        ),
    ] {
        assert!(doc.contains(&format!("  {key}:")), "channel {key} missing");
        assert!(
            doc.contains(&format!("./schemas/{file}")),
            "schema {file} missing"
        );
        assert!(
            doc.contains(&format!("./examples/{file}")),
            "example {file} missing"
        );
        assert!(
            proto_dir().join("examples").join(file).exists(),
            "{file} example"
        );
    }
}

#[test]
fn each_aggregate_has_one_subject_spelling() {
    use crate::Subject;
    assert_eq!(
        Subject::Lead(leadgen_domain::LeadId::new(42)).to_string(),
        "lead/42"
    );
    assert_eq!(
        Subject::SyncTask(leadgen_domain::SyncTaskId::new(7)).to_string(),
        "sync-task/7"
    );
    assert_eq!(
        Subject::Platform(leadgen_domain::PlatformId::new(3)).to_string(),
        "platform/3"
    );
}
