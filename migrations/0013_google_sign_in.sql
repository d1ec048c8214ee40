-- Sign-in with Google (OpenID Connect). An account is linked to a Google account by Google's
-- subject id, which never changes, never by the address alone (an address can change hands at
-- Google, and an account made here in someone's name must not be taken over by linking it).
create table account_google (
    subject text primary key,
    account_id text not null unique references account (account_id) on delete cascade,
    -- The address Google gave at linking (shown on the security page; never used to find anyone).
    email text not null,
    linked_at bigint not null
);

-- A trip to Google and back: the state the browser must bring back (only its SHA-256 kept, the
-- value itself in the browser's cookie), the nonce the ID token must carry and the PKCE
-- verifier the code is redeemed with. Used once; lapses after ten minutes.
create table google_flow (
    state_hash text primary key,
    nonce text not null,
    pkce_verifier text not null,
    -- 'sign_in', or 'link' for the signed-in account named here.
    purpose text not null,
    account_id text references account (account_id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null
);
create index google_flow_expiry on google_flow (expires_at);
