-- Two-factor sign-in (TOTP, RFC 6238) and its recovery codes, and the short-lived challenge
-- between a right password and its second factor.

-- The confirmed secret (base32), when two factors are on; the one being set up until its first
-- code confirms it, and when it was made (it lapses after an hour, so a secret glimpsed by
-- someone else while it waited is worth nothing later); the last time step a code was taken for
-- (a code is taken once).
alter table account add column totp_secret text;
alter table account add column totp_pending text;
alter table account add column totp_pending_at bigint;
alter table account add column totp_enabled_at bigint;
alter table account add column totp_last_step bigint not null default 0;

-- One-time codes for when the authenticator is lost: SHA-256 of each (80 random bits), deleted
-- once used.
create table recovery_code (
    account_id text not null references account (account_id) on delete cascade,
    code_hash text not null,
    primary key (account_id, code_hash)
);

-- A password that was right, waiting five minutes for its second factor: a random token in a
-- cookie, its SHA-256 here, and when that password was set (a new one since ends the wait).
create table sign_in_challenge (
    token_hash text primary key,
    account_id text not null references account (account_id) on delete cascade,
    password_changed_at bigint not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index sign_in_challenge_expiry on sign_in_challenge (expires_at);
