DROP TABLE IF EXISTS t_order_lead;
