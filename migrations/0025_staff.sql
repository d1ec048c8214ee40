-- The staff console (decisions 11 and 14): staff are accounts with a role; a role is an
-- editable set of permissions whose names are defined in code; every change staff make, and
-- every staff sign-in, leaves an audit row that nothing in the console edits.

create table staff_role (
    role text primary key,
    label text not null,
    created_at bigint not null
);

create table staff_role_permission (
    role text not null references staff_role (role) on delete cascade,
    permission text not null,
    primary key (role, permission)
);

create table staff_member (
    account_id text primary key references account (account_id) on delete cascade,
    role text not null references staff_role (role),
    -- Who added them (an account id, or `shell:USER` for the command line).
    added_by text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index staff_member_role on staff_member (role);

-- Who did what to what, when and from where; `before` and `after` are JSON.
create table audit_log (
    audit_id text primary key,
    at bigint not null,
    -- `account:ID`, `shell:USER`, or `payments` for what a verified event did.
    actor text not null,
    -- The actor as people read it: an address, a shell user.
    actor_label text not null,
    action text not null,
    subject text,
    before_json text,
    after_json text,
    client text
);
create index audit_log_at on audit_log (at, audit_id);
create index audit_log_subject on audit_log (subject, at);
create index audit_log_actor on audit_log (actor, at);
create index audit_log_action on audit_log (action, at);

-- Notes staff keep on an order, never shown to the shopper.
create table order_note (
    note_id text primary key,
    order_id text not null references customer_order (order_id),
    author text not null,
    body text not null,
    created_at bigint not null
);
create index order_note_order on order_note (order_id, created_at);

-- A session that proved a second factor (at sign-in, or by turning two factors on), and when
-- it last opened a staff page: staff pages need the first and idle out twelve hours after the
-- second.
alter table account_session add column two_factor_at bigint;
alter table account_session add column staff_seen_at bigint;

-- The order list's search and filters.
create index customer_order_created on customer_order (created_at, order_id);
create index customer_order_status_created on customer_order (status, created_at);
