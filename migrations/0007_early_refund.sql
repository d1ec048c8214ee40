-- A refund that Stripe delivers before the payment it refunds (its events come in any order)
-- is kept here, by our order id when its charge carries one and by its payment intent always,
-- and applied once the payment arrives.
create table early_refund (
    event_id text primary key,
    order_id text,
    payment_intent text,
    received_at bigint not null
);
create index early_refund_order on early_refund (order_id);
create index early_refund_intent on early_refund (payment_intent);
