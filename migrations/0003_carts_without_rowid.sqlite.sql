-- SQLite only (PostgreSQL has no rowids): the carts and their lines are kept in their primary
-- keys' own B-trees instead of a rowid table plus an index each, so an edit writes half the
-- pages. SQLite cannot change a table's kind in place: each is copied into a new table.
-- The new lines point at the new carts, so dropping the old carts cascades into nothing; the
-- rename of the new carts carries that reference over.

create table cart_new (
    cart_id text primary key,
    created_at bigint not null,
    updated_at bigint not null
) without rowid;

insert into cart_new (cart_id, created_at, updated_at) select cart_id, created_at, updated_at from cart;

create table cart_item_new (
    cart_id text not null references cart_new (cart_id) on delete cascade,
    sku text not null references product (sku),
    quantity bigint not null check (quantity > 0),
    primary key (cart_id, sku)
) without rowid;

insert into cart_item_new (cart_id, sku, quantity) select cart_id, sku, quantity from cart_item;

drop table cart_item;

drop table cart;

alter table cart_new rename to cart;

alter table cart_item_new rename to cart_item;
