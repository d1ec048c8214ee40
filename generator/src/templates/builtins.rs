//! Zola's built-in templates; a site or theme template of the same name replaces each. As in
//! Zola, a site without `index.html`, `section.html` or `page.html` still builds: those pages
//! get a plain layout of ours (and the build a warning).

/// Every built-in template: (name, source).
pub const BUILTINS: &[(&str, &str)] = &[
    ("atom.xml", ATOM),
    ("rss.xml", RSS),
    ("sitemap.xml", SITEMAP),
    ("split_sitemap_index.xml", SPLIT_SITEMAP_INDEX),
    ("robots.txt", ROBOTS),
    ("internal/alias.html", ALIAS),
    ("404.html", NOT_FOUND),
    ("index.html", PLAIN_SECTION),
    ("section.html", PLAIN_SECTION),
    ("page.html", PLAIN_PAGE),
];

/// The layouts a site need not write, used when it does not.
pub const PLAIN_LAYOUTS: &[&str] = &["index.html", "section.html", "page.html"];

const PLAIN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if page.title %}{{ page.title }}{% else %}{{ config.title | default(value="") }}{% endif %}</title>
</head>
<body>
<!-- This site has no templates/page.html: written in the engine's plain layout. -->
<main>
<h1>{{ page.title | default(value="") }}</h1>
{{ page.content | safe }}
</main>
</body>
</html>
"#;

const PLAIN_SECTION: &str = r#"<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if section.title %}{{ section.title }}{% else %}{{ config.title | default(value="") }}{% endif %}</title>
</head>
<body>
<!-- This site has no template for its sections: written in the engine's plain layout. -->
<main>
<h1>{% if section.title %}{{ section.title }}{% else %}{{ config.title | default(value="") }}{% endif %}</h1>
{{ section.content | safe }}
<ul>{% for p in paginator.pages | default(value=section.pages) %}
<li><a href="{{ p.permalink | safe }}">{{ p.title | default(value=p.slug) }}</a></li>{% endfor %}
</ul>
{% if paginator %}<nav>{% if paginator.previous %}<a href="{{ paginator.previous | safe }}">&larr;</a>{% endif %} {{ paginator.current_index }} / {{ paginator.number_pagers }} {% if paginator.next %}<a href="{{ paginator.next | safe }}">&rarr;</a>{% endif %}</nav>{% endif %}
</main>
</body>
</html>
"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{{ lang }}">
    <title>{{ config.title }}
    {%- if term %} - {{ term.name }}
    {%- elif section and section.title %} - {{ section.title }}
    {%- endif -%}
    </title>
    {%- if config.description %}
    <subtitle>{{ config.description }}</subtitle>
    {%- endif %}
    <link rel="self" type="application/atom+xml" href="{{ feed_url | safe }}"/>
    <link rel="alternate" type="text/html" href="
      {%- if section -%}
        {{ section.permalink | escape_xml | safe }}
      {%- else -%}
        {{ config.base_url | escape_xml | safe }}
      {%- endif -%}
    "/>
    <generator uri="https://www.getzola.org/">Zola</generator>
    {% if last_updated is defined %}<updated>{{ last_updated | date(format="%Y-%m-%dT%H:%M:%S%:z") }}</updated>{% endif %}
    <id>{{ feed_url | safe }}</id>
    {%- for page in pages %}
    <entry xml:lang="{{ page.lang }}">
        <title>{{ page.title }}</title>
        {% if page.date %}<published>{{ page.date | date(format="%Y-%m-%dT%H:%M:%S%:z") }}</published>{% endif %}
        {% if page.updated %}<updated>{{ page.updated | date(format="%Y-%m-%dT%H:%M:%S%:z") }}</updated>{% elif page.date %}<updated>{{ page.date | date(format="%Y-%m-%dT%H:%M:%S%:z") }}</updated>{% endif %}
        {% for author in page.authors %}
        <author>
          <name>
            {{ author }}
          </name>
        </author>
        {% else %}
        <author>
          <name>
            {%- if config.author -%}
              {{ config.author }}
            {%- else -%}
              Unknown
            {%- endif -%}
          </name>
        </author>
        {% endfor %}
        <link rel="alternate" type="text/html" href="{{ page.permalink | safe }}"/>
        <id>{{ page.permalink | safe }}</id>
        {% if page.summary %}
        <summary type="html">{{ page.summary }}</summary>
        {% else %}
        <content type="html" xml:base="{{ page.permalink | escape_xml | safe }}">{{ page.content }}</content>
        {% endif %}
    </entry>
    {%- endfor %}
</feed>
"#;

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
    <channel>
      <title>{{ config.title }}
        {%- if term %} - {{ term.name }}
        {%- elif section.title %} - {{ section.title }}
        {%- endif -%}
      </title>
        <link>{%- if section -%}
            {{ section.permalink | escape_xml | safe }}
          {%- else -%}
            {{ config.base_url | escape_xml | safe }}
          {%- endif -%}
        </link>
        <description>{{ config.description }}</description>
        <generator>Zola</generator>
        <language>{{ lang }}</language>
        <atom:link href="{{ feed_url | safe }}" rel="self" type="application/rss+xml"/>
        <lastBuildDate>{{ last_updated | date(format="%a, %d %b %Y %H:%M:%S %z") }}</lastBuildDate>
        {%- for page in pages %}
        <item>
            <title>{{ page.title }}</title>
            <pubDate>{{ page.date | date(format="%a, %d %b %Y %H:%M:%S %z") }}</pubDate>
            <author>
              {%- if page.authors -%}
                {{ page.authors[0] }}
              {%- elif config.author -%}
                {{ config.author }}
              {%- else -%}
                Unknown
              {%- endif -%}
            </author>
            <link>{{ page.permalink | escape_xml | safe }}</link>
            <guid>{{ page.permalink | escape_xml | safe }}</guid>
            <description xml:base="{{ page.permalink | escape_xml | safe }}">{% if page.summary %}{{ page.summary }}{% else %}{{ page.content }}{% endif %}</description>
        </item>
        {%- endfor %}
    </channel>
</rss>
"#;

const SITEMAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    {%- for sitemap_entry in entries %}
    <url>
        <loc>{{ sitemap_entry.permalink | escape_xml | safe }}</loc>
        {%- if sitemap_entry.updated %}
        <lastmod>{{ sitemap_entry.updated }}</lastmod>
        {%- endif %}
    </url>
    {%- endfor %}
</urlset>
"#;

const SPLIT_SITEMAP_INDEX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    {%- for sitemap in sitemaps %}
    <sitemap>
        <loc>{{ sitemap }}</loc>
    </sitemap>
    {%- endfor %}
</sitemapindex>
"#;

const ROBOTS: &str = r#"User-agent: *
Disallow:
Allow: /
Sitemap: {{ get_url(path="sitemap.xml") }}
"#;

// Zola's redirect page: its script keeps the `#fragment` a reader followed; the meta refresh
// serves readers without scripts. (A theme under a strict CSP replaces it: see the shop's.)
const ALIAS: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>Redirect</title>
<script>
  const target = "{{ url | safe }}";
  const hash = window.location.hash || "";
  window.location.replace(target + hash);
</script>
<noscript>
  <meta http-equiv="refresh" content="0; url={{ url | safe }}">
</noscript>
<p><a href="{{ url | safe }}">Click here</a> to be redirected.</p>
"#;

const NOT_FOUND: &str = r#"<!doctype html>
<title>404 Not Found</title>
<h1>404 Not Found</h1>
"#;
