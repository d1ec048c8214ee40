-- What the subscriber was last told of their subscription (`active`, `paused:<until>`,
-- `ending:<day>`, `past_due`, `cancelled`): an event that changes it queues one e-mail saying
-- so, in the transaction that applies it; an event that does not (a renewal) queues none.
alter table subscription add column notified text not null default '';
