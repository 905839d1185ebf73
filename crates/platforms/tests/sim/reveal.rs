//! Revealing a buyer's phone against the simulator, the same steps on every platform, through a
//! [`Session`] as the service will call it: a listed order's phone decrypts to what the simulated
//! buyer really has (a mobile, and a privacy number with its extension and, where the platform
//! sends one, its expiry); a purpose the platform does not permit is refused before any call; a
//! scene the app was not granted is the platform's refusal; an unknown ciphertext is the item's
//! error; the daily quota (`--decrypt-quota 3`) and a decrypt permission never granted
//! (`--decrypt-denied`) are their typed errors, none of them retried, where the platform
//! documents them; where it does not (the simulator's codes are its own choice), they are
//! unknown codes reported with that code at once: a decrypt spends quota, so it is neither
//! retried nor taken for an expired token.

use chrono::Utc;
use leadgen_domain::ContactKind;
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{DecryptRequest, PlatformClient, PlatformError, RevealPurpose};

use crate::harness::{Platform, Sim, Sink, fast, last_days};

/// What differs between platforms.
pub struct Rules {
    /// The purpose revealed for.
    pub purpose: RevealPurpose,
    /// A purpose the adapter refuses without calling the platform (`None`: all are permitted).
    pub refused: Option<RevealPurpose>,
    /// A purpose whose scene the simulator's app was not granted (started with `args`).
    pub ungranted: Option<RevealPurpose>,
    /// Extra simulator flags.
    pub args: &'static [&'static str],
    /// The decrypt API as the simulator counts its calls.
    pub method: &'static str,
    /// Whether the platform sends a privacy number's expiry.
    pub expiring: bool,
    /// Whether a spent decrypt quota is a ban with a wait (Taobao's code 7 "This ban will last
    /// for N more seconds", README §1.4: back off N s; JD's code 2, held for the adapter's own
    /// wait since JD states none) rather than a quota error.
    pub quota_is_a_ban: bool,
    /// Whether the README documents the code the simulator refuses a spent quota with; else the
    /// adapter reads it as an unknown code.
    pub quota_documented: bool,
    /// Whether the README documents the code the simulator refuses an ungranted decrypt
    /// permission with; else the adapter reads it as an unknown code.
    pub denial_documented: bool,
}

/// A quick policy for the steps that retry an unknown code to the end: the simulator injects
/// no faults there.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        min_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
        max_stated_wait: std::time::Duration::from_secs(1),
    }
}

fn platform_error(
    result: Result<leadgen_platforms::RevealedContact, SessionError>,
) -> PlatformError {
    match result {
        Err(SessionError::Platform(e)) => e,
        other => panic!("expected a platform error, got {other:?}"),
    }
}

/// Runs every step for `platform`.
pub async fn within_the_rules<C: PlatformClient + 'static>(
    platform: &'static Platform<C>,
    rules: Rules,
) {
    let mut args = vec!["--decrypt-quota", "3"];
    args.extend(rules.args);
    let sim = Sim::start(platform, &args);
    let client = sim.client();
    let kind = client.platform();
    assert!(client.reveal_purposes().contains(&rules.purpose));
    if let Some(refused) = rules.refused {
        assert!(!client.reveal_purposes().contains(&refused));
    }
    let tokens = sim.authorized(&client).await;
    let sink = Sink::default();
    let refresh = tokens.refresh_token.as_deref();
    let walk = sim
        .walk_with(&client, &tokens.access_token, refresh, last_days(20), &sink)
        .await
        .expect("walk");

    // A listed order whose phone is a mobile, and one whose is a privacy number.
    let (mut plain, mut privacy) = (None, None);
    for order in &walk.orders {
        let Ok(request) = DecryptRequest::for_order(kind, order, rules.purpose) else {
            continue;
        };
        let truth = sim.contact(&order.order_id).await;
        let slot = if truth["privacy_number"].is_null() {
            &mut plain
        } else {
            &mut privacy
        };
        slot.get_or_insert((request, truth));
        if plain.is_some() && privacy.is_some() {
            break;
        }
    }
    let (plain, plain_truth) = plain.expect("a listed order whose phone decrypts to a mobile");
    let (privacy, privacy_truth) =
        privacy.expect("a listed order whose phone decrypts to a privacy number");
    let mut session = Session::new(
        sim.app(platform.app_secret),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        fast(),
    );

    let mobile = session
        .decrypt_contact(&client, &plain, &sink)
        .await
        .expect("a mobile");
    assert_eq!(mobile.kind(), ContactKind::Plain);
    assert_eq!(
        Some(mobile.expose_number()),
        plain_truth["mobile"].as_str(),
        "the buyer's real mobile"
    );
    assert!(mobile.expose_extension().is_none() && mobile.expires_at().is_none());
    let shown = format!("{mobile:?}");
    assert!(!shown.contains(mobile.expose_number()), "{shown}");

    let virt = session
        .decrypt_contact(&client, &privacy, &sink)
        .await
        .expect("a privacy number");
    let number = &privacy_truth["privacy_number"];
    assert_eq!(virt.kind(), ContactKind::Virtual);
    assert_eq!(Some(virt.expose_number()), number["number"].as_str());
    assert_eq!(virt.expose_extension(), number["extension"].as_str());
    if rules.expiring {
        assert!(
            virt.expires_at().is_some_and(|t| t > Utc::now()),
            "{virt:?}"
        );
    } else {
        assert_eq!(virt.expires_at(), None);
    }
    let shown = format!("{virt:?}");
    assert!(!shown.contains(virt.expose_number()), "{shown}");

    if let Some(refused) = rules.refused {
        let before = sim.calls_of(rules.method).await;
        let request = DecryptRequest {
            purpose: refused,
            ..plain.clone()
        };
        let err = platform_error(session.decrypt_contact(&client, &request, &sink).await);
        assert_eq!(
            err,
            PlatformError::PurposeNotPermitted {
                platform: kind,
                purpose: refused
            }
        );
        assert_eq!(
            sim.calls_of(rules.method).await,
            before,
            "a refused purpose is never sent, under this or another scene"
        );
    }

    if let Some(ungranted) = rules.ungranted {
        let request = DecryptRequest {
            purpose: ungranted,
            ..plain.clone()
        };
        let err = platform_error(session.decrypt_contact(&client, &request, &sink).await);
        assert!(
            matches!(err, PlatformError::DecryptNotPermitted { .. }),
            "{err:?}"
        );
    }

    let unknown = DecryptRequest {
        ciphertext: plain.ciphertext.chars().rev().collect(),
        ..plain.clone()
    };
    let err = platform_error(session.decrypt_contact(&client, &unknown, &sink).await);
    assert!(
        matches!(err, PlatformError::DecryptFailed { .. }),
        "{err:?}"
    );

    if !rules.quota_documented {
        // A policy that would retry: an undocumented refusal must still be asked once.
        session = Session::new(
            sim.app(platform.app_secret),
            tokens.access_token.clone(),
            tokens.refresh_token.clone(),
            quick(),
        );
    }
    let before = sim.calls_of(rules.method).await;
    let err = platform_error(session.decrypt_contact(&client, &plain, &sink).await);
    if !rules.quota_documented {
        // The simulator's quota code is not the platform's documented one: unknown, its code
        // kept, reported at once (no second decrypt, no refresh).
        assert!(matches!(err, PlatformError::Unknown { .. }), "{err:?}");
    } else if rules.quota_is_a_ban {
        // The ban lasts until the quota renews, longer than any backoff: returned at once with
        // the wait, and the next reveal is held without a call until the ban ends.
        assert!(
            matches!(
                err,
                PlatformError::Throttled {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        let held = platform_error(session.decrypt_contact(&client, &plain, &sink).await);
        assert!(
            matches!(
                held,
                PlatformError::Throttled {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{held:?}"
        );
    } else {
        assert!(
            matches!(err, PlatformError::QuotaExhausted { .. }),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
    assert_eq!(
        sim.calls_of(rules.method).await,
        before + 1,
        "a spent quota is not retried"
    );
    assert!(sink.is_empty(), "no refresh for a refusal");
    drop(sim);

    let denied = Sim::start(platform, &["--decrypt-denied"]);
    let client = denied.client();
    let tokens = denied.authorized(&client).await;
    let mut session = Session::new(
        denied.app(platform.app_secret),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        if rules.denial_documented {
            fast()
        } else {
            quick()
        },
    );
    let err = platform_error(session.decrypt_contact(&client, &plain, &sink).await);
    if rules.denial_documented {
        assert!(
            matches!(err, PlatformError::DecryptNotPermitted { .. }),
            "{err:?}"
        );
    } else {
        assert!(matches!(err, PlatformError::Unknown { .. }), "{err:?}");
    }
}
