-- Usernames are case-insensitive for uniqueness and login: `Alice` and
-- `alice` are one account (issue 13, item 6). The stored name keeps the
-- form it was registered with; uniqueness is this index on lower(username),
-- beside the schema's own `users_username_key` (kept: it still holds, and
-- dropping it would change the constraint existing deployments know).
-- Logins look the name up with `lower(username) = lower($1)`, which this
-- index serves.
--
-- A database that already holds names differing only in case cannot take
-- the index: the migration stops and names them, so an operator can rename
-- one of each pair (`sigil` has no automatic merge of accounts).
DO $$
DECLARE
    clashes TEXT;
BEGIN
    SELECT string_agg(names, '; ') INTO clashes FROM (
        SELECT string_agg(username, ', ' ORDER BY username) AS names
        FROM users GROUP BY lower(username) HAVING count(*) > 1
    ) AS groups;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'usernames that differ only in case must be renamed first: %', clashes;
    END IF;
END
$$;

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
