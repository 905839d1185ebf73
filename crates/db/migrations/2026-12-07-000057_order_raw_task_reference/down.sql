ALTER TABLE t_ecom_order_raw
    ADD CONSTRAINT t_ecom_order_raw_sync_task_id_fkey FOREIGN KEY (sync_task_id)
    REFERENCES t_ecom_sync_task (id) NOT VALID;
