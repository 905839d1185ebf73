-- The day (`as_of`) the external scorer's standing intention was asked for. An intention is a
-- prediction as of a moment; it stands at most `[scorer] stands_days`, then the rescore asks
-- again (keeping the standing one until the answer). NULL: asked before this column existed, or
-- never: such an external intention is asked again at the next rescore.
ALTER TABLE t_order_lead ADD COLUMN IF NOT EXISTS external_as_of TIMESTAMPTZ;
