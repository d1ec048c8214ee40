-- Every change staff make to the bottles on hand (set after a count, adjusted for breakage or
-- a delivery), with its reason, who made it and what it left: the stock's ledger. Sales are
-- the orders' own lines.
create table stock_ledger (
    entry_id text primary key,
    sku text not null references product (sku),
    at bigint not null,
    delta bigint not null,
    on_hand_after bigint not null,
    reason text not null,
    actor text not null,
    actor_label text not null
);
create index stock_ledger_sku on stock_ledger (sku, at);

-- Sales by day, for each size's velocity.
create index customer_order_paid on customer_order (paid_at);
