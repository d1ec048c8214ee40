-- The Folio, the quarterly subscription. Its plans and editions come from git through the
-- catalog (`atelier catalog sync`); its subscriptions and invoices change only from the payment
-- provider's verified events.

create table folio_plan (
    plan_id text primary key,
    name text not null,
    -- One edition's price as git says it now; a period is charged at the price of its renewal.
    price_minor bigint not null,
    currency text not null,
    cadence text not null,
    holds text not null,
    shipping_included bigint not null,
    active bigint not null,
    updated_at bigint not null
);

create table folio_edition (
    slug text primary key,
    path text not null,
    title text not null,
    -- The day it ships, YYYY-MM-DD: subscriptions whose paid period covers it receive it.
    ships_on text not null,
    -- The bottles it holds, one of each SKU per subscriber, comma-separated.
    skus text not null,
    updated_at bigint not null
);

-- A subscription belongs to an account. It is made (pending) when the subscriber goes to pay,
-- so every event about it finds it by the id its metadata carries, in whatever order they come.
create table subscription (
    subscription_id text primary key,
    account_id text not null references account (account_id),
    plan_id text not null references folio_plan (plan_id),
    provider text not null,
    -- The provider's ids, known from its first event.
    provider_subscription_id text unique,
    provider_customer_id text,
    checkout_session_id text unique,
    status text not null,
    -- What the current period was charged, per edition, and in what currency.
    price_minor bigint not null,
    currency text not null,
    current_period_start bigint,
    current_period_end bigint,
    cancel_at_period_end bigint not null default 0,
    cancelled_at bigint,
    -- Collection paused (nothing billed, no edition shipped) until then, or indefinitely.
    paused bigint not null default 0,
    pause_resumes_at bigint,
    ship_name text not null,
    ship_line1 text not null,
    ship_line2 text not null,
    ship_postal_code text not null,
    ship_city text not null,
    ship_country text not null,
    -- The creation time of the newest provider event applied, so an older one arriving later
    -- cannot undo it.
    event_at bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);
create index subscription_account on subscription (account_id, created_at);
-- A double click makes one subscription: one may wait for payment per account and plan.
create unique index subscription_one_pending on subscription (account_id, plan_id) where status = 'pending';

-- The provider's invoices of a subscription: a paid one is what entitles it to the editions
-- its period covers.
create table subscription_invoice (
    invoice_id text primary key,
    subscription_id text not null references subscription (subscription_id),
    status text not null,
    amount_minor bigint not null,
    currency text not null,
    period_start bigint not null,
    period_end bigint not null,
    attempt_count bigint not null default 0,
    next_attempt_at bigint,
    event_at bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index subscription_invoice_subscription on subscription_invoice (subscription_id, period_start);
