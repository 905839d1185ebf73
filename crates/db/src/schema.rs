//! Diesel table definitions, matching `migrations/` (checked by the schema test in
//! `leadgen-test-support`, which migrates a fresh database and compares column lists).

diesel::table! {
    t_ecom_platform_auth (id) {
        id -> Int8,
        tenant_id -> Int8,
        platform_type -> Text,
        app_key -> Text,
        auth_info -> Text,
        access_token -> Nullable<Text>,
        refresh_token -> Nullable<Text>,
        shop_id -> Nullable<Text>,
        shop_name -> Nullable<Text>,
        status -> Text,
        oauth_state_hash -> Nullable<Text>,
        redirect_url -> Nullable<Text>,
        callback_url -> Text,
        expiry_time -> Nullable<Timestamptz>,
        refresh_expiry_time -> Nullable<Timestamptz>,
        last_sync_time -> Nullable<Timestamptz>,
        created_by -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        modified_watermark -> Nullable<Timestamptz>,
        status_reason -> Nullable<Text>,
        superseded_by -> Nullable<Int8>,
        purge_after -> Nullable<Timestamptz>,
        purged_at -> Nullable<Timestamptz>,
        oauth_state_issued_at -> Nullable<Timestamptz>,
        status_version -> Int8,
        purge_failures -> Int4,
        purge_retry_at -> Nullable<Timestamptz>,
        refresh_refused_since -> Nullable<Timestamptz>,
        oauth_exchange_started_at -> Nullable<Timestamptz>,
        activated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    t_ecom_sync_task (id) {
        id -> Int8,
        tenant_id -> Int8,
        platform_id -> Int8,
        platform_type -> Text,
        trigger_type -> Text,
        status -> Text,
        window_start -> Timestamptz,
        window_end -> Timestamptz,
        requested_by -> Nullable<Int8>,
        requested_by_name -> Nullable<Text>,
        sync_time -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        pages_fetched -> Int4,
        success_count -> Int4,
        failure_count -> Int4,
        error_message -> Nullable<Text>,
        update_time -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        attempts -> Int4,
        windows_total -> Nullable<Int4>,
        windows_done -> Int4,
        new_count -> Int4,
        updated_count -> Int4,
        unchanged_count -> Int4,
        served_from -> Nullable<Timestamptz>,
        warning -> Nullable<Text>,
        listing -> Text,
        claimed_by -> Nullable<Text>,
        windows_as_of -> Nullable<Timestamptz>,
        resends -> Int4,
    }
}

diesel::table! {
    t_ecom_order_raw (id) {
        id -> Int8,
        tenant_id -> Int8,
        platform_id -> Int8,
        platform_type -> Text,
        order_id -> Text,
        raw_data -> Text,
        normalized -> Nullable<Text>,
        parse_error -> Nullable<Text>,
        content_hash -> Text,
        order_created_at -> Nullable<Timestamptz>,
        order_modified_at -> Nullable<Timestamptz>,
        sync_task_id -> Int8,
        sync_time -> Timestamptz,
        process_status -> Text,
        unreadable_raw_data -> Nullable<Text>,
        pending_since -> Timestamptz,
    }
}

diesel::table! {
    t_ecom_order_processed (id) {
        id -> Int8,
        tenant_id -> Int8,
        platform_id -> Int8,
        platform_type -> Text,
        raw_order_id -> Int8,
        order_id -> Text,
        user_id -> Nullable<Int8>,
        status -> Text,
        platform_status -> Text,
        amount_fen -> Int8,
        order_time -> Timestamptz,
        product_info -> Text,
        contact_info -> Nullable<Text>,
        contact_masked -> Nullable<Text>,
        contact_kind -> Nullable<Text>,
        region -> Text,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        identity_keys -> Array<Text>,
        order_created_at -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        refunded -> Bool,
        partial_refund_fen -> Nullable<Int8>,
    }
}

diesel::table! {
    /// Also has the generated `tag_bits` (one bit per intention tag), which only the lead list
    /// reads, through SQL. Wider than diesel's default 32 columns: the workspace enables
    /// `64-column-tables`.
    t_order_lead (id) {
        id -> Int8,
        tenant_id -> Int8,
        platform_id -> Int8,
        platform_type -> Text,
        order_id -> Text,
        raw_order_id -> Int8,
        processed_order_id -> Int8,
        contact_info -> Text,
        contact_masked -> Text,
        contact_kind -> Text,
        product_info -> Text,
        amount_fen -> Int8,
        order_time -> Timestamptz,
        intention_tags -> Array<Text>,
        score -> Int2,
        process_status -> Text,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        order_count -> Int4,
        paid_order_count -> Int4,
        paid_total_fen -> Int8,
        last_order_time -> Timestamptz,
        aggregate -> Jsonb,
        intention -> Int2,
        score_reasons -> Jsonb,
        model_version -> Text,
        scored_by -> Text,
        external_pending -> Bool,
        contact_validity -> Text,
        contact_validity_reason -> Jsonb,
        merged_into -> Nullable<Int8>,
        version -> Int4,
        contact_raw_order_id -> Nullable<Int8>,
        status_version -> Int4,
        external_as_of -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    t_lead_identity (tenant_id, key_hash) {
        tenant_id -> Int8,
        key_hash -> Text,
        kind -> Text,
        lead_id -> Int8,
        create_time -> Timestamptz,
    }
}

diesel::table! {
    t_lead_legacy_status (raw_order_id) {
        raw_order_id -> Int8,
        tenant_id -> Int8,
        process_status -> Text,
    }
}

diesel::table! {
    t_lead_shop_stats (platform_id) {
        platform_id -> Int8,
        tenant_id -> Int8,
        distribution -> Nullable<Jsonb>,
        dirty_seq -> Int8,
        dirty_at -> Nullable<Timestamptz>,
        rescored_seq -> Int8,
        rescored_at -> Nullable<Timestamptz>,
        as_of -> Nullable<Timestamptz>,
        lease_until -> Nullable<Timestamptz>,
        dirty_since -> Nullable<Timestamptz>,
        rescore_took_ms -> Nullable<Int8>,
    }
}

diesel::table! {
    t_lead_status_change (id) {
        id -> Int8,
        tenant_id -> Int8,
        lead_id -> Int8,
        from_status -> Text,
        to_status -> Text,
        note -> Nullable<Text>,
        operator_id -> Int8,
        operator_name -> Text,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    t_contact_reveal (id) {
        id -> Int8,
        tenant_id -> Int8,
        lead_id -> Int8,
        platform_id -> Int8,
        order_id -> Text,
        purpose -> Text,
        reason -> Nullable<Text>,
        operator_id -> Int8,
        operator_name -> Text,
        result -> Text,
        error_code -> Nullable<Int4>,
        error_message -> Nullable<Text>,
        trace_id -> Nullable<Text>,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    t_contact_reveal_quota (tenant_id, user_id, day) {
        tenant_id -> Int8,
        user_id -> Int8,
        day -> Date,
        used -> Int4,
    }
}

diesel::table! {
    t_contact_search_mask (tenant_id, day, mask, number_index) {
        tenant_id -> Int8,
        day -> Date,
        mask -> Text,
        number_index -> Text,
    }
}

diesel::table! {
    t_operation_log (id) {
        id -> Int8,
        tenant_id -> Int8,
        service -> Text,
        operator_id -> Nullable<Int8>,
        operator_name -> Nullable<Text>,
        action -> Text,
        target_type -> Text,
        target_ids -> Array<Text>,
        result -> Text,
        error_message -> Nullable<Text>,
        trace_id -> Nullable<Text>,
        occurred_at -> Timestamptz,
        detail -> Nullable<Jsonb>,
    }
}

diesel::table! {
    t_order_revealed_identity (raw_order_id) {
        raw_order_id -> Int8,
        tenant_id -> Int8,
        key_hash -> Text,
        revealed_at -> Timestamptz,
    }
}

diesel::table! {
    t_platform_call_slot (rate_key) {
        rate_key -> Text,
        next_at -> Timestamptz,
    }
}

diesel::table! {
    t_platform_call_hold (rate_key, api) {
        rate_key -> Text,
        api -> Text,
        until -> Timestamptz,
        hold_secs -> Float8,
        said -> Text,
    }
}

diesel::table! {
    t_outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        producer -> Text,
        routing_key -> Text,
        payload -> Text,
        headers -> Jsonb,
        created_at -> Timestamptz,
        attempts -> Int4,
        last_attempt_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        not_before -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    t_processed_message (consumer, message_id) {
        consumer -> Text,
        message_id -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::joinable!(t_ecom_sync_task -> t_ecom_platform_auth (platform_id));
diesel::joinable!(t_ecom_order_raw -> t_ecom_platform_auth (platform_id));
diesel::joinable!(t_ecom_order_processed -> t_ecom_platform_auth (platform_id));
diesel::joinable!(t_order_lead -> t_ecom_platform_auth (platform_id));
diesel::joinable!(t_lead_identity -> t_order_lead (lead_id));
diesel::joinable!(t_lead_status_change -> t_order_lead (lead_id));
diesel::joinable!(t_order_revealed_identity -> t_ecom_order_raw (raw_order_id));

diesel::allow_tables_to_appear_in_same_query!(
    t_ecom_platform_auth,
    t_ecom_sync_task,
    t_ecom_order_raw,
    t_ecom_order_processed,
    t_order_lead,
    t_lead_identity,
    t_lead_legacy_status,
    t_lead_shop_stats,
    t_lead_status_change,
    t_contact_reveal,
    t_contact_reveal_quota,
    t_contact_search_mask,
    t_operation_log,
    t_order_revealed_identity,
    t_outbox,
    t_platform_call_hold,
    t_platform_call_slot,
    t_processed_message,
);
