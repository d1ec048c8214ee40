-- The outbox's message bodies apart from its state. Claiming a message and recording how its
-- sending went update its row; SQLite rewrites a whole row on every update, and with the bodies
-- in it that was tens of kilobytes twice per e-mail (an edition to 10,000 subscribers wrote
-- hundreds of megabytes to the log). Bodies are written once, and emptied once for a message
-- that carried a secret.
create table outbox_body (
    outbox_id text primary key references outbox (outbox_id),
    body_text text not null,
    body_html text
);
insert into outbox_body (outbox_id, body_text, body_html) select outbox_id, body_text, body_html from outbox;
alter table outbox drop column body_text;
alter table outbox drop column body_html;
