-- Double opt-in: an address is a subscriber only once its owner confirms from the link mailed
-- to it. Addresses taken before this (single opt-in) stay unconfirmed: no one proved them.
alter table newsletter_subscriber add column confirmed_at bigint;
