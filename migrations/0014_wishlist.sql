-- Wishlists, per size: an account's here (a guest's lives in its browser's cookie and joins the
-- account's at sign-in), and the requests to be told once when a sold-out size is back.
create table wishlist_item (
    account_id text not null references account (account_id) on delete cascade,
    sku text not null references product (sku),
    added_at bigint not null,
    primary key (account_id, sku)
);

create table stock_alert (
    alert_id text primary key,
    email text not null,
    sku text not null references product (sku),
    -- Set when a signed-in shopper asked (deleted with the account).
    account_id text references account (account_id) on delete cascade,
    -- The essence's page, for the message's link.
    page_url text not null,
    created_at bigint not null,
    -- When the one message went (kept a month, then deleted).
    sent_at bigint
);
-- One waiting request per address and size: asking twice is harmless.
create unique index stock_alert_waiting on stock_alert (email, sku) where sent_at is null;
create index stock_alert_sku on stock_alert (sku) where sent_at is null;
