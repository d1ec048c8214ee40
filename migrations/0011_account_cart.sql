-- An account's cart: the cart a browser had when it signed in becomes the account's (or is
-- merged into the one it has), and follows the account to every browser it signs in from. An
-- account has one cart at most; a cart of an account is kept as long as the account.
alter table cart add column account_id text references account (account_id) on delete cascade;
create unique index cart_account on cart (account_id);
