-- The sandbox's side of a Folio subscription: what Stripe Billing would keep (its periods, the
-- pause, a cancellation at the period's end, a card that declines), so the sandbox can renew
-- when a period ends and send the same events Stripe would. The shop's own state is in
-- `subscription` and changes only from those events.
create table sandbox_subscription (
    provider_subscription_id text primary key,
    subscription_id text not null unique references subscription (subscription_id),
    customer_id text not null,
    -- `active` or `canceled`, as Stripe writes them.
    status text not null,
    period_start bigint not null,
    period_end bigint not null,
    -- The invoices made so far: the next one's number.
    invoices bigint not null,
    cancel_at_period_end bigint not null default 0,
    paused bigint not null default 0,
    resumes_at bigint,
    -- The sandbox's declining card: renewals fail while it is set.
    card_declines bigint not null default 0,
    canceled_at bigint,
    created_at bigint not null
);
create index sandbox_subscription_due on sandbox_subscription (status, period_end);

-- How far the sandbox's clock is ahead of the real one, in seconds (`atelier folio advance`).
insert into counter (name, value) values ('sandbox_clock', 0);
