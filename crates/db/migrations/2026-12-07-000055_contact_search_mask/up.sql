-- Searches by a full mobile number, by the mask they share with listed contacts (`138****5678`):
-- a tenant may search only `[reveal] per_mask_daily` different numbers behind one mask per
-- Beijing day (lead-api `service::quota`), so that trying a mask's ten thousand hidden digits
-- cannot tell which number is a buyer's. The number is kept only as its keyed blind index, and
-- only for its day: a tenant's earlier days are deleted at its next search.
CREATE TABLE t_contact_search_mask (
    tenant_id BIGINT NOT NULL,
    day DATE NOT NULL,
    mask TEXT NOT NULL,
    number_index TEXT NOT NULL,
    PRIMARY KEY (tenant_id, day, mask, number_index)
);
