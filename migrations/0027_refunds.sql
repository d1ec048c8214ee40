-- Refunds staff ask for (in the console or at the command line): how much, which bottles go
-- back on the shelf, why and who asked. A refund is only `requested` until the payment
-- provider's `charge.refunded` confirms it; that event also says how much of the order's
-- payment has gone back in all (`customer_order.refunded_minor`), whoever refunded it.
alter table customer_order add column refunded_minor bigint not null default 0;
create table order_refund (
    refund_id text primary key,
    order_id text not null references customer_order (order_id),
    amount_minor bigint not null,
    -- JSON: [["LAV-10", 1], …], the bottles put back when the refund is confirmed.
    restock text not null,
    reason text not null,
    -- requested | confirmed | failed
    state text not null,
    provider_refund text,
    failure text,
    actor text not null,
    actor_label text not null,
    requested_at bigint not null,
    confirmed_at bigint
);
create index order_refund_order on order_refund (order_id, requested_at);
