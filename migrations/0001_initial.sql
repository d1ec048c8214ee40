-- The checkout service's first schema. One SQL text serves SQLite and PostgreSQL: identifiers
-- are text made by the service, times are unix seconds in bigint, booleans are integers.

-- Sellable sizes, synced from the generator's catalog export (identity and prices only).
create table product (
    sku text primary key,
    essence_sku text not null,
    title text not null,
    label text not null,
    path text not null,
    price_minor bigint not null check (price_minor > 0),
    currency text not null,
    active bigint not null default 1,
    updated_at bigint not null
);

-- Stock lives only here. Available = on_hand - reserved; the checks make overselling a
-- constraint violation, not a bug to hunt.
create table stock (
    sku text primary key references product (sku),
    on_hand bigint not null default 0 check (on_hand >= 0),
    reserved bigint not null default 0 check (reserved >= 0),
    low_threshold bigint not null default 5,
    -- Set once an alert went out for the current crossing below the threshold.
    low_alerted bigint not null default 0,
    check (reserved <= on_hand)
);

-- Guest carts, identified by a random id in a cookie.
create table cart (
    cart_id text primary key,
    created_at bigint not null,
    updated_at bigint not null
);

create table cart_item (
    cart_id text not null references cart (cart_id) on delete cascade,
    sku text not null references product (sku),
    quantity bigint not null check (quantity > 0),
    primary key (cart_id, sku)
);

-- Named counters (order numbers): `update … returning` works on both engines.
create table counter (
    name text primary key,
    value bigint not null
);
insert into counter (name, value) values ('order', 0);

create table customer_order (
    order_id text primary key,
    number text not null unique,
    email text not null,
    name text not null,
    address text not null,
    country text not null,
    shipping_method text not null,
    status text not null,
    currency text not null,
    subtotal_minor bigint not null,
    shipping_minor bigint not null,
    vat_minor bigint not null,
    total_minor bigint not null,
    payment_provider text not null,
    payment_session text unique,
    payment_intent text,
    -- The cart the order came from, emptied once the order is paid.
    cart_id text,
    -- What the order holds of the stock: reserved, committed (sold) or released.
    stock_state text not null,
    created_at bigint not null,
    updated_at bigint not null,
    expires_at bigint not null,
    paid_at bigint
);
create index customer_order_pending on customer_order (status, expires_at);

create table order_item (
    order_id text not null references customer_order (order_id),
    sku text not null,
    title text not null,
    label text not null,
    unit_minor bigint not null,
    quantity bigint not null check (quantity > 0),
    primary key (order_id, sku)
);

-- Every webhook event applied, recorded in the same transaction as its effect.
create table webhook_event (
    event_id text primary key,
    event_type text not null,
    received_at bigint not null
);

-- Transactional e-mail goes out through this table, retried until sent. `dedupe_key` keeps a
-- message from being queued twice (one confirmation per order, one alert per crossing).
create table outbox (
    outbox_id text primary key,
    dedupe_key text unique,
    kind text not null,
    recipient text not null,
    subject text not null,
    body_text text not null,
    body_html text,
    status text not null,
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    locked_until bigint,
    last_error text,
    created_at bigint not null,
    sent_at bigint
);
create index outbox_due on outbox (status, next_attempt_at);

create table newsletter_subscriber (
    email text primary key,
    created_at bigint not null
);
