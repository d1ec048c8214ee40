-- Staff find orders (and guests) by part of a name: a trigram index answers a substring of
-- three letters or more without reading every order. Each order gets a stable number of its
-- own (VACUUM may renumber a table's implicit rowids, so the index is keyed by this one), and
-- triggers keep the index in step with every write.
create table order_search (n integer primary key, order_id text not null unique);
create virtual table order_name_search using fts5(name, tokenize = 'trigram');
insert into order_search (order_id) select order_id from customer_order order by created_at, order_id;
insert into order_name_search (rowid, name) select s.n, o.name from order_search s join customer_order o on o.order_id = s.order_id;
create trigger order_name_search_insert after insert on customer_order begin insert into order_search (order_id) values (new.order_id); insert into order_name_search (rowid, name) values (last_insert_rowid(), new.name); end;
create trigger order_name_search_update after update of name on customer_order begin update order_name_search set name = new.name where rowid = (select n from order_search where order_id = new.order_id); end;
create trigger order_name_search_delete after delete on customer_order begin delete from order_name_search where rowid = (select n from order_search where order_id = old.order_id); delete from order_search where order_id = old.order_id; end;
