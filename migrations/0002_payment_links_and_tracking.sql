-- Stripe hosts its own payment page: the order keeps the address the shopper pays at, so the
-- order page can send them back to it. Sessions are opened after the order row exists, so
-- payment_session stays nullable.
alter table customer_order add column payment_url text;

-- Staff move a paid order along (fulfilled → shipped → delivered); the carrier's tracking
-- reference and when each step happened.
alter table customer_order add column tracking text;
alter table customer_order add column shipped_at bigint;
alter table customer_order add column delivered_at bigint;

-- Set when a payment arrived after its reservation lapsed and the stock was gone: the money
-- must go back, and staff are told.
alter table customer_order add column refund_needed bigint not null default 0;

-- Set while a SKU is sold out, so the site's build hook is called once when it sells out and
-- once when it comes back, not on every sale in between.
alter table stock add column sold_out_hooked bigint not null default 0;
