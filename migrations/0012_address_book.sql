-- An account's addresses: where to ship, where to bill, each kind with one default, used to
-- fill in the checkout.
create table account_address (
    address_id text primary key,
    account_id text not null references account (account_id) on delete cascade,
    name text not null,
    line1 text not null,
    line2 text not null,
    postal_code text not null,
    city text not null,
    country text not null,
    default_shipping bigint not null default 0,
    default_billing bigint not null default 0,
    created_at bigint not null
);
create index account_address_account on account_address (account_id, created_at);
