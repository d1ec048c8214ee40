-- Customer accounts (decision 11): one table of identities, sessions kept server-side, the
-- single-use tokens mailed to their owners, and the attempts that protect an account counted
-- where every instance sees them.

create table account (
    account_id text primary key,
    -- As parsed at the edge: lowercase, an international domain in its ASCII form.
    email text not null unique,
    name text not null,
    -- argon2id in PHC form.
    password_hash text not null,
    -- Set once the owner has opened a link mailed to the address (verification or reset).
    email_verified_at bigint,
    password_changed_at bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

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
create index account_session_account on account_session (account_id);
create index account_session_expiry on account_session (expires_at);

-- Links mailed to an account's owner (verify the address, reset the password): single-use,
-- expiring, kept as SHA-256 only.
create table account_token (
    token_hash text primary key,
    account_id text not null references account (account_id) on delete cascade,
    purpose text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index account_token_account on account_token (account_id, purpose);
create index account_token_expiry on account_token (expires_at);

-- What the limits on sign-in, registration and resets count: one row per event, in a bucket
-- (an address, a client); counted over a sliding window and deleted once older than it.
create table auth_attempt (
    bucket text not null,
    at bigint not null
);
create index auth_attempt_bucket on auth_attempt (bucket, at);
create index auth_attempt_at on auth_attempt (at);
