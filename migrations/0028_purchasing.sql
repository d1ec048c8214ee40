-- Suppliers and the purchase orders the atelier sends them: draft → sent → partly received →
-- received (or cancelled before anything arrived). Receiving adds the bottles to the stock
-- through its ledger, line by line.
create table supplier (
    supplier_id text primary key,
    name text not null,
    email text not null default '',
    lead_days bigint not null,
    created_at bigint not null
);
create unique index supplier_name on supplier (lower(name));
create table purchase_order (
    po_id text primary key,
    seq bigint not null unique,
    number text not null unique,
    supplier_id text not null references supplier (supplier_id),
    -- draft | sent | partly_received | received | cancelled
    state text not null,
    note text not null default '',
    created_at bigint not null,
    sent_at bigint,
    closed_at bigint,
    created_by text not null
);
create index purchase_order_state on purchase_order (state, created_at);
create table purchase_order_line (
    po_id text not null references purchase_order (po_id),
    sku text not null references product (sku),
    ordered bigint not null,
    received bigint not null default 0,
    primary key (po_id, sku)
);
