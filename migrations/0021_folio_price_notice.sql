-- A changed price in git applies to renewals from 30 days after the change, and every
-- subscriber is told before: the plan keeps the price it replaced and when; a subscription
-- keeps which change its subscriber was told of.
alter table folio_plan add column previous_price_minor bigint;
alter table folio_plan add column price_changed_at bigint;
alter table subscription add column price_told_at bigint;
