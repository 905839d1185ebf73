DROP TABLE IF EXISTS t_contact_reveal_quota;
DROP TABLE IF EXISTS t_contact_reveal;
