-- Keys every instance shares (decision 12): what one instance signs — an order's link, a
-- message carried to the cart page, a sandbox event — must verify on every other. A key not
-- given in the configuration is generated once, by whichever instance starts first, and kept
-- here (never in a data folder, which each instance has its own of).
create table service_secret (
    name text primary key,
    value text not null,
    created_at bigint not null
);
