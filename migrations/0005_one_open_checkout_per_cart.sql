-- A cart has at most one order awaiting payment: checking it out again finds that order (the
-- same details) or replaces it (its stock given back first), never a second reservation.
-- `checkout_key` is a digest of what the order was opened with: lines, prices, address,
-- shipping.
alter table customer_order add column checkout_key text;

-- Carts that opened several checkouts before this rule keep their newest open order; the
-- others are detached from the cart and expire as they would have.
update customer_order set cart_id = null
where status = 'pending_payment' and cart_id is not null
  and order_id <> (select o.order_id from customer_order o
                   where o.cart_id = customer_order.cart_id and o.status = 'pending_payment'
                   order by o.created_at desc, o.order_id desc limit 1);

create unique index customer_order_open_cart on customer_order (cart_id) where status = 'pending_payment';
