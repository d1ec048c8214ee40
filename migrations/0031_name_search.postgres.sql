-- Staff find orders, guests and accounts by part of a name (a trigram index, pg_trgm, answers
-- a substring of three letters or more) and by the start of an address (a pattern index). A
-- role that may not add the extension keeps working: its name searches read every row.
do $$ begin create extension if not exists pg_trgm; create index customer_order_name_trgm on customer_order using gin (lower(name) gin_trgm_ops); create index account_name_trgm on account using gin (lower(name) gin_trgm_ops); exception when others then raise notice 'pg_trgm unavailable (%): name searches read every row', sqlerrm; end $$;
create index customer_order_email_prefix on customer_order (email text_pattern_ops);
create index account_email_prefix on account (email text_pattern_ops);
