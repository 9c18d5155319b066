-- Analytics store, version 2: the identity graph (docs/identity.md).
-- Identifiers and links are evidence and only grow (an operator may retract a link, which is
-- kept with the retraction); profiles, aliases and conflicts are derived from them.

-- Every identifier ever seen, typed and normalised, integer-encoded by `id` (arrival order).
CREATE TABLE identifiers (
    id BIGINT NOT NULL,
    type VARCHAR NOT NULL,             -- user_id, email, email_sha256, phone, custom:NAME, cookie
    scope VARCHAR NOT NULL,            -- the StoreCode of a store-scoped user_id, else ''
    value VARCHAR NOT NULL,            -- normalised
    first_seen TIMESTAMPTZ NOT NULL,   -- event time of the first record naming it
    status VARCHAR NOT NULL,           -- active, quarantined, released, blocked, excluded
    fan_out INTEGER NOT NULL           -- customer ids it is linked to (emails, phones, cookies)
);

-- Where resolution put each linking identifier (derived; quarantined and blocked ones are absent).
CREATE TABLE identity_members (
    identifier BIGINT NOT NULL,
    component BIGINT NOT NULL,         -- connected component of the links, before guardrails
    client_id BIGINT NOT NULL          -- the profile
);

-- Two identifiers named together by one record: `a` is the record's highest-priority one.
CREATE TABLE identity_links (
    seq BIGINT NOT NULL,               -- evidence order: resolution applies links in this order
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    rule VARCHAR NOT NULL,             -- same_record, email_hash
    source VARCHAR NOT NULL,           -- file name, or API request id
    source_line BIGINT,
    observed_at TIMESTAMPTZ NOT NULL,  -- event time of the first record naming both
    recorded_at TIMESTAMPTZ NOT NULL,
    retracted_at TIMESTAMPTZ,          -- set by `identity split`; the link no longer joins
    retracted_note VARCHAR
);

-- Pairs an operator forbade from ever being in one profile.
CREATE TABLE identity_forbidden (
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    note VARCHAR
);

-- Links not applied because the merge would break a per-profile limit (derived).
CREATE TABLE identity_conflicts (
    link_seq BIGINT NOT NULL,
    kept BIGINT NOT NULL,              -- the record's identifier that kept its profile
    detached BIGINT NOT NULL,          -- the lower-priority identifier left out of it
    limit_key VARCHAR NOT NULL,        -- user_id:SCOPE, custom:NAME, or forbidden
    existing BIGINT NOT NULL,          -- the value already in the profile
    incoming BIGINT NOT NULL           -- the value the merge would have added
);

-- Every review decision on a shared identifier: quarantined, released, blocked.
CREATE TABLE identity_reviews (
    identifier BIGINT NOT NULL,
    action VARCHAR NOT NULL,
    fan_out INTEGER NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    note VARCHAR
);

CREATE TABLE profiles (
    client_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    recognized BOOLEAN NOT NULL,
    identifiers INTEGER NOT NULL
);

-- Client ids merged into an older profile: they still resolve, to `client_id`.
CREATE TABLE profile_aliases (
    alias BIGINT NOT NULL,
    client_id BIGINT NOT NULL,
    since TIMESTAMPTZ NOT NULL
);

-- created, merged (others merged into this profile), split (part of it left), erased.
CREATE TABLE profile_history (
    client_id BIGINT NOT NULL,
    happened_at TIMESTAMPTZ NOT NULL,
    event VARCHAR NOT NULL,
    others BIGINT[] NOT NULL,
    reason VARCHAR NOT NULL
);

-- Tags and consents are stated about an identifier, so they follow it through merges and splits.
CREATE TABLE tag_events (
    identifier BIGINT NOT NULL,
    tag VARCHAR NOT NULL,
    added BOOLEAN NOT NULL,            -- false: removed
    stated_at TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL
);

CREATE TABLE consent_events (
    identifier BIGINT NOT NULL,
    channel VARCHAR NOT NULL,          -- email, sms, push, ...
    granted BOOLEAN NOT NULL,          -- false: withdrawn
    stated_at TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL,
    proof VARCHAR NOT NULL             -- the text the person agreed to, or the form / request
);

-- Custom attribute names, fixed with their type on first use.
CREATE TABLE attribute_definitions (
    name VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL
);

-- Erased persons: hashes of their identifiers, so no late file or replay brings them back.
CREATE TABLE tombstones (
    hash VARCHAR NOT NULL,             -- SHA-256 of type, scope and value
    erased_at TIMESTAMPTZ NOT NULL
);

-- Phone spellings already normalised to E.164 (parsing is the slow part of taking evidence).
CREATE TABLE phone_spellings (
    raw VARCHAR NOT NULL,
    country VARCHAR NOT NULL,
    e164 VARCHAR                       -- NULL: not a valid number
);

-- How far evidence has been taken from the imported rows, and the last resolution.
CREATE TABLE identity_state (
    evidence_until TIMESTAMPTZ,        -- rows loaded up to this instant have given their links
    resolved_at TIMESTAMPTZ,
    resolved_identifier BIGINT NOT NULL, -- identifiers and links up to these are in profiles
    resolved_link BIGINT NOT NULL,
    last_client_id BIGINT NOT NULL     -- client ids are never given twice
);
INSERT INTO identity_state VALUES (NULL, NULL, 0, 0, 0);
