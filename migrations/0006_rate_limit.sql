-- Requests counted per client and minute (a fixed window), in the database so that every
-- instance counts against one limit and no instance holds a table that grows with the number
-- of clients. Windows older than the current one are deleted by every instance's worker.
create table rate_limit (
    bucket text not null,
    window_start bigint not null,
    hits bigint not null,
    primary key (bucket, window_start)
);
create index rate_limit_window on rate_limit (window_start);
