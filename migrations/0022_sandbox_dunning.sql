-- The sandbox's retries of a renewal whose payment failed, as Stripe's retry schedule makes them:
-- how many attempts at the open invoice have failed, and when the next is made. After the last
-- one fails the subscription is cancelled, as Stripe's "cancel the subscription" setting does.
alter table sandbox_subscription add column failed_attempts bigint not null default 0;
alter table sandbox_subscription add column retry_at bigint;
create index sandbox_subscription_retry on sandbox_subscription (status, retry_at);
