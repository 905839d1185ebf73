-- What was cut is kept in clear nowhere: the sealed orders hold it, and nothing is restored.
SELECT 1;
