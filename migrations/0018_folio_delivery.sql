-- Each Folio edition reaches each subscription once: its e-mail and its order are made in the
-- transaction that claims the (subscription, edition) pair here, so two instances, or one run
-- again after a crash, cannot make a second.

-- The edition's page text, rendered by the generator: the body of the subscribers' e-mail.
alter table folio_edition add column body_html text not null default '';
alter table folio_edition add column body_text text not null default '';

create table edition_delivery (
    subscription_id text not null references subscription (subscription_id),
    edition_slug text not null references folio_edition (slug),
    order_id text not null references customer_order (order_id),
    created_at bigint not null,
    primary key (subscription_id, edition_slug)
);

-- Which subscription an order ships an edition of (none for a shop order).
alter table customer_order add column subscription_id text;

-- Subscriptions by age: when stock runs short, the oldest are served first.
create index subscription_age on subscription (created_at, subscription_id);
