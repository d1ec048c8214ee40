-- Customer accounts (decision 11): one table of identities, registrations waiting for their
-- address to be confirmed, sessions kept server-side, the single-use links mailed to owners,
-- the requests whose mail is decided away from the request, and the attempts that protect an
-- account, counted where every instance sees them.

create table account (
    account_id text primary key,
    -- As parsed at the edge: lowercase, an international domain in its ASCII form.
    email text not null unique,
    name text not null,
    -- argon2id in PHC form.
    password_hash text not null,
    -- When the owner last proved the address theirs (its confirmation link, a reset link).
    email_verified_at bigint,
    password_changed_at bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

-- A registration waiting for its link: the account is made only when the link is opened and
-- the password given again, so that registering tells nothing about an address and a stranger
-- cannot make an account in someone else's name. Several may wait for one address.
create table registration (
    token_hash text primary key,
    email text not null,
    name text not null,
    password_hash text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index registration_email on registration (email);
create index registration_expiry on registration (expires_at);

-- Registrations, "send the link again" and password resets asked for: the request only
-- records one (the same work whatever the address), and what to mail is decided after.
create table account_request (
    request_id text primary key,
    kind text not null,
    email text not null,
    name text,
    password_hash text,
    created_at bigint not null
);
create index account_request_created on account_request (created_at);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is kept, so a copy of
-- the database signs no one in. `session_id` names it in the list of one's sessions.
create table account_session (
    session_id text primary key,
    token_hash text not null unique,
    account_id text not null references account (account_id) on delete cascade,
    created_at bigint not null,
    last_seen_at bigint not null,
    expires_at bigint not null,
    user_agent text not null,
    client text not null
);
create index account_session_account on account_session (account_id, created_at);
create index account_session_expiry on account_session (expires_at);

-- Links mailed to an account's owner (reset the password, confirm a new address): single-use,
-- expiring, kept as SHA-256 only; `detail` is what the link confirms (the new address).
create table account_token (
    token_hash text primary key,
    account_id text not null references account (account_id) on delete cascade,
    purpose text not null,
    detail text,
    created_at bigint not null,
    expires_at bigint not null
);
create index account_token_account on account_token (account_id, purpose);
create index account_token_expiry on account_token (expires_at);

-- What the limits on sign-in and account mail count: one row per attempt, in a bucket (an
-- address, a client), counted over a sliding window and deleted once older than every window.
create table auth_attempt (
    attempt_id text primary key,
    bucket text not null,
    at bigint not null
);
create index auth_attempt_bucket on auth_attempt (bucket, at);
create index auth_attempt_at on auth_attempt (at);

-- Messages whose bodies carry a secret (a link that signs in or sets a password) are emptied
-- once sent or given up, so the outbox keeps no working link.
alter table outbox add column erase_after_send bigint not null default 0;
