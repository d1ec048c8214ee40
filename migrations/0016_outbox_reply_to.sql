-- A message may name where answers go (the contact form's letter to staff: its sender).
alter table outbox add column reply_to text;
