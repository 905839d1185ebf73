use leadgen_settings::SecretString;

use super::*;

const SECRET: &str = "a-test-secret-of-thirty-two-bytes!";

fn settings() -> AuthSettings {
    AuthSettings {
        algorithm: "HS256".into(),
        hmac_secret: Some(SecretString::from(SECRET.to_owned())),
        public_key_pem: None,
        additional_public_keys_pem: Vec::new(),
        issuer: None,
        audience: None,
    }
}

#[test]
fn a_name_keeps_no_control_characters_and_a_bounded_length() {
    assert_eq!(display_name(7, "张\u{0}三\n"), "张三");
    assert_eq!(
        display_name(7, "  李四\r\n伪造的日志行 "),
        "李四伪造的日志行"
    );
    assert_eq!(
        display_name(7, &"长".repeat(100)).chars().count(),
        NAME_MAX_CHARS
    );
    assert_eq!(display_name(7, ""), "用户 7");
    assert_eq!(display_name(7, " \u{0} "), "用户 7");
}

#[test]
fn rs256_tokens_verify_under_the_current_key_or_an_additional_one() {
    let (a_key, a_pub) = (
        include_str!("../../tests/fixtures/test-rsa-a.key.pem"),
        include_str!("../../tests/fixtures/test-rsa-a.pub.pem"),
    );
    let (b_key, b_pub) = (
        include_str!("../../tests/fixtures/test-rsa-b.key.pem"),
        include_str!("../../tests/fixtures/test-rsa-b.pub.pem"),
    );
    let signed_by = |private: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &serde_json::json!({"sub": "7", "tenant_id": 1,
                                    "exp": chrono::Utc::now().timestamp() + 60}),
            &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let verifier = |current: &str, additional: &[&str]| {
        JwtVerifier::from_settings(&AuthSettings {
            algorithm: "RS256".into(),
            hmac_secret: None,
            public_key_pem: Some(current.to_owned()),
            additional_public_keys_pem: additional.iter().map(|k| (*k).to_owned()).collect(),
            issuer: None,
            audience: None,
        })
        .unwrap()
    };
    // One key: only its tokens.
    let only_a = verifier(a_pub, &[]);
    assert!(only_a.verify(&signed_by(a_key)).is_some());
    assert!(only_a.verify(&signed_by(b_key)).is_none());
    // During the identity service's rotation both verify, whichever is current.
    for both in [verifier(a_pub, &[b_pub]), verifier(b_pub, &[a_pub])] {
        assert!(both.verify(&signed_by(a_key)).is_some());
        assert!(both.verify(&signed_by(b_key)).is_some());
    }
    // An empty current key stops the start (a pod with no key would answer every request 401);
    // an empty additional one is none.
    for empty in ["", "  \n"] {
        assert!(matches!(
            JwtVerifier::from_settings(&AuthSettings {
                algorithm: "RS256".into(),
                hmac_secret: None,
                public_key_pem: Some(empty.to_owned()),
                additional_public_keys_pem: vec![a_pub.to_owned()],
                issuer: None,
                audience: None,
            }),
            Err(AuthConfigError::BadPublicKey)
        ));
    }
    let with_empty = verifier(a_pub, &[""]);
    assert!(with_empty.verify(&signed_by(a_key)).is_some());
    // An additional key that is no key stops the start, as the current one does.
    assert!(matches!(
        JwtVerifier::from_settings(&AuthSettings {
            algorithm: "RS256".into(),
            hmac_secret: None,
            public_key_pem: Some(a_pub.to_owned()),
            additional_public_keys_pem: vec!["not a key".into()],
            issuer: None,
            audience: None,
        }),
        Err(AuthConfigError::BadPublicKey)
    ));
}

/// A shared secret an attacker could guess offline from one token stops the start.
#[test]
fn an_hs256_secret_shorter_than_its_hash_is_refused() {
    let with = |secret: &str| {
        JwtVerifier::from_settings(&AuthSettings {
            hmac_secret: Some(SecretString::from(secret.to_owned())),
            ..settings()
        })
    };
    let short = "s".repeat(MIN_HMAC_SECRET_BYTES - 1);
    let Err(refused) = with(&short) else {
        panic!("a 31-byte secret is refused");
    };
    assert!(matches!(refused, AuthConfigError::WeakSecret(31)));
    assert!(!refused.to_string().contains(&short), "{refused}");
    assert!(with(&"s".repeat(MIN_HMAC_SECRET_BYTES)).is_ok());
}

#[test]
fn a_null_name_or_perms_is_none_not_an_invalid_token() {
    let v = JwtVerifier::from_settings(&settings()).unwrap();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"sub": "7", "tenant_id": 1, "name": null, "perms": null,
                                "exp": chrono::Utc::now().timestamp() + 60}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let claims = v.verify(&token).expect("a valid token");
    assert_eq!((claims.name.as_str(), claims.perms.len()), ("", 0));
}

#[test]
fn verifies_minted_tokens_and_refuses_others() {
    let v = JwtVerifier::from_settings(&settings()).unwrap();
    let claims = Claims {
        sub: 7,
        tenant_id: 1,
        name: "张三".into(),
        perms: vec!["lead:order:view".into()],
        exp: chrono::Utc::now().timestamp() + 60,
        iss: None,
        aud: Vec::new(),
    };
    let token = mint_hs256(SECRET, &claims).unwrap();
    assert_eq!(v.verify(&token).unwrap().tenant_id, 1);
    assert!(v.verify(&mint_hs256("other", &claims).unwrap()).is_none());
    let numeric_sub = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": 9, "tenant_id": "2", "perms": "lead:order:view lead:order:sync", "exp": claims.exp}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
    let parsed = v.verify(&numeric_sub).unwrap();
    assert_eq!(
        (parsed.sub, parsed.tenant_id, parsed.perms.len()),
        (9, 2, 2)
    );
    let expired = Claims {
        exp: chrono::Utc::now().timestamp() - 3600,
        ..claims
    };
    assert!(v.verify(&mint_hs256(SECRET, &expired).unwrap()).is_none());
}

#[test]
fn a_token_not_valid_yet_or_without_a_real_user_or_tenant_is_refused() {
    let v = JwtVerifier::from_settings(&settings()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = |claims: serde_json::Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let exp = now + 3600;
    assert!(
        v.verify(&token(
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "nbf": now - 5})
        ))
        .is_some()
    );
    assert!(
        v.verify(&token(
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "nbf": now + 3600})
        ))
        .is_none(),
        "not valid for another hour"
    );
    assert!(
        v.verify(&token(
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "iat": now - 60})
        ))
        .is_some()
    );
    assert!(
        v.verify(&token(
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "iat": now + 600})
        ))
        .is_none(),
        "issued ten minutes from now"
    );
    assert!(
        v.verify(&token(
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "nbf": "9999999999"})
        ))
        .is_none(),
        "an nbf that is not a number"
    );
    // Ids past 2^53 - 1 would come back rounded to a JavaScript client (`operatorId`).
    for (sub, tenant) in [
        ("9007199254740991", "1"),
        ("9007199254740992", "1"),
        ("7", "9007199254740993"),
    ] {
        assert_eq!(
            v.verify(&token(
                serde_json::json!({"sub": sub, "tenant_id": tenant, "exp": exp})
            ))
            .is_some(),
            sub == "9007199254740991",
            "sub {sub}, tenant {tenant}"
        );
    }
    // NumericDates with a fraction (PyJWT keeps `time.time()`'s float) are times too.
    let at = now as f64 + 0.25;
    assert!(
        v.verify(&token(serde_json::json!({"sub": "7", "tenant_id": 1,
                "exp": at + 3600.0, "iat": at - 1.0, "nbf": at - 1.0})))
            .is_some(),
        "fractional seconds"
    );
    for (claims, why) in [
        (
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": at - 120.0}),
            "expired two minutes ago",
        ),
        (
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": at + 3600.0, "nbf": at + 600.0}),
            "not valid for ten minutes",
        ),
        (
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": at + 3600.0, "iat": at + 600.0}),
            "issued ten minutes from now",
        ),
        (serde_json::json!({"sub": "7", "tenant_id": 1}), "no exp"),
        (
            serde_json::json!({"sub": "7", "tenant_id": 1, "exp": "soon"}),
            "an exp that is not a number",
        ),
    ] {
        assert!(v.verify(&token(claims)).is_none(), "{why}");
    }
    // Within the leeway, an expired token still passes; past it, not.
    for (exp, valid) in [(now - 20, true), (now - 40, false)] {
        assert_eq!(
            v.verify(&token(
                serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp})
            ))
            .is_some(),
            valid,
            "{exp}"
        );
    }
    for (sub, tenant) in [("0", 1), ("-1", 1), ("7", 0), ("7", -3)] {
        assert!(
            v.verify(&token(
                serde_json::json!({"sub": sub, "tenant_id": tenant, "exp": exp})
            ))
            .is_none(),
            "sub {sub}, tenant {tenant}"
        );
    }
}

#[test]
fn an_audience_may_be_one_string_or_a_list() {
    let exp = chrono::Utc::now().timestamp() + 60;
    let token = |aud: serde_json::Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp, "aud": aud}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let open = JwtVerifier::from_settings(&settings()).unwrap();
    let checked = JwtVerifier::from_settings(&AuthSettings {
        audience: Some("leadgen".into()),
        ..settings()
    })
    .unwrap();
    for aud in [
        serde_json::json!("leadgen"),
        serde_json::json!(["other", "leadgen"]),
    ] {
        assert!(open.verify(&token(aud.clone())).is_some(), "{aud}");
        assert!(checked.verify(&token(aud.clone())).is_some(), "{aud}");
    }
    assert!(
        checked
            .verify(&token(serde_json::json!(["other"])))
            .is_none()
    );
}

#[test]
fn a_configured_issuer_and_audience_are_required() {
    let exp = chrono::Utc::now().timestamp() + 60;
    let token = |claims: serde_json::Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let checked = JwtVerifier::from_settings(&AuthSettings {
        issuer: Some("ckb-identity".into()),
        audience: Some("leadgen".into()),
        ..settings()
    })
    .unwrap();
    let both = serde_json::json!({"sub": "7", "tenant_id": 1, "exp": exp,
            "iss": "ckb-identity", "aud": "leadgen"});
    assert!(checked.verify(&token(both.clone())).is_some());
    for missing in ["iss", "aud"] {
        let mut claims = both.clone();
        claims.as_object_mut().unwrap().remove(missing);
        assert!(
            checked.verify(&token(claims.clone())).is_none(),
            "without {missing}"
        );
        let open = JwtVerifier::from_settings(&settings()).unwrap();
        assert!(open.verify(&token(claims)).is_some(), "none configured");
    }
}
