-- The price per edition a subscription's provider bills its renewals at, once moved to a
-- changed price after its notice (Stripe keeps billing the Price a subscription holds until it
-- is told otherwise); null: the price it began with.
alter table subscription add column billed_price_minor bigint;
