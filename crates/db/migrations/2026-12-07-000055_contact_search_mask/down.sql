DROP TABLE t_contact_search_mask;
