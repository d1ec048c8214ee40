-- Testimonials staff write or approve (FR-032): who said it (and their title or town), what
-- they said, a rating out of five when given; approved ones are exported for the home page,
-- featured ones first.
create table testimonial (
    testimonial_id text primary key,
    author text not null,
    title text not null default '',
    quote text not null,
    rating bigint,
    featured bigint not null default 0,
    approved bigint not null default 0,
    created_by text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index testimonial_shown on testimonial (approved, featured, created_at);
