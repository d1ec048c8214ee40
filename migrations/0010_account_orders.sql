-- Orders that belong to an account: placed while signed in, or placed as a guest with the
-- account's address and joined once that address was proven the owner's.
alter table customer_order add column account_id text references account (account_id);
create index customer_order_account on customer_order (account_id, created_at);
create index customer_order_email on customer_order (email);
