-- A gift of the Folio: one or four editions paid for once by an account, for someone else (their
-- name, address and e-mail, and a message), with no renewal. Paid only from the payment
-- provider's verified event, like everything else.
create table folio_gift (
    gift_id text primary key,
    -- The giver.
    account_id text not null references account (account_id),
    plan_id text not null references folio_plan (plan_id),
    -- Editions paid for: the first that many to ship after the payment.
    editions bigint not null,
    -- What the giver paid for all of them, and in what currency.
    price_minor bigint not null,
    currency text not null,
    -- `pending` until paid, then `paid`.
    status text not null,
    from_name text not null,
    message text not null,
    recipient_email text not null,
    ship_name text not null,
    ship_line1 text not null,
    ship_line2 text not null,
    ship_postal_code text not null,
    ship_city text not null,
    ship_country text not null,
    checkout_session_id text unique,
    paid_at bigint,
    created_at bigint not null,
    updated_at bigint not null
);
create index folio_gift_account on folio_gift (account_id, created_at);
create index folio_gift_paid on folio_gift (status, paid_at, gift_id);
-- A double submit of the same gift makes one.
create unique index folio_gift_one_pending on folio_gift (account_id, recipient_email) where status = 'pending';

-- Each edition to each gift, once: the pair's key, as for subscriptions.
create table gift_delivery (
    gift_id text not null references folio_gift (gift_id),
    edition_slug text not null references folio_edition (slug),
    order_id text not null references customer_order (order_id),
    created_at bigint not null,
    primary key (gift_id, edition_slug)
);
