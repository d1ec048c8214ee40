-- Staff find customers by the start of an address (a pattern index). Their trigram indexes for
-- part of a name are made at every start when missing (`db::TRIGRAM_INDEXES`): pg_trgm may
-- only be added by a role allowed to, perhaps after this migration ran.
create index customer_order_email_prefix on customer_order (email text_pattern_ops);
create index account_email_prefix on account (email text_pattern_ops);
