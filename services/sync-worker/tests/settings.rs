//! sync-worker's committed configuration loads, and a value that would break the service is
//! refused at start, named: an `ack_after_secs` past RabbitMQ's `consumer_timeout` would have
//! every long sync's request redelivered mid-walk.

use std::path::PathBuf;

use leadgen_settings::{SettingsError, Sources, load};
use sync_worker::config::Settings;

fn sources(service_dir: PathBuf) -> Sources {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Sources {
        shared_dir: Some(root.join("config")),
        dir: service_dir,
        environment: "local".to_owned(),
        use_env: false,
        dir_required: true,
    }
}

#[test]
fn the_committed_configuration_loads_and_a_breaking_value_is_refused() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let settings: Settings = load(&sources(committed.clone())).expect("the committed files");
    assert!(settings.sync.ack_after_secs < 1800);

    let dir = std::env::temp_dir().join(format!("sync-worker-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let base = std::fs::read_to_string(committed.join("base.toml")).expect("base.toml");
    std::fs::write(dir.join("base.toml"), base).expect("write");
    std::fs::write(dir.join("local.toml"), "[sync]\nack_after_secs = 3600\n").expect("write");
    match load::<Settings>(&sources(dir.clone())) {
        Err(SettingsError::Invalid { path, message, .. }) => {
            assert_eq!(path, "sync.ack_after_secs");
            assert!(message.contains("consumer_timeout"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| "loaded")),
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
