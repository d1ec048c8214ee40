//! Every mistake an editor can make is reported with its file, line and what was expected,
//! all of them at once, and nothing panics.

mod common;

use common::TestSite;

const CONFIG: &str = r#"base_url = "https://shop.example"
taxonomies = [{ name = "humour" }]
[extra.compendium]
section = "compendium"
[extra.compendium.terms]
humour = ["calming", "uplifting"]
"#;

const PAGE_TEMPLATE: &str = "{{ page.title }}{{ page.content | safe }}";

fn essence(sku: &str, price: &str, humour: &str) -> String {
    format!(
        "+++\ntitle = \"{sku}\"\n[taxonomies]\nhumour = [\"{humour}\"]\n[extra]\nsku = \"{sku}\"\nprice = {price}\n+++\nAn essence.\n"
    )
}

fn shop(files: &[(&str, &str)]) -> TestSite {
    let mut all = vec![
        ("config.toml", CONFIG),
        ("templates/page.html", PAGE_TEMPLATE),
        ("templates/section.html", "{{ section.title }}"),
        ("templates/index.html", "home"),
        ("templates/taxonomy_list.html", "list"),
        ("templates/taxonomy_single.html", "single"),
        ("content/compendium/_index.md", "+++\ntitle = \"Compendium\"\n+++\n"),
    ];
    all.extend_from_slice(files);
    TestSite::with_files(&all)
}

fn messages(site: &TestSite) -> String {
    site.build_err().to_string()
}

#[test]
fn front_matter_errors_name_file_line_and_field() {
    let site = shop(&[("content/a.md", "+++\ntitle = \"A\"\nweight = \"heavy\"\n+++\n")]);
    let m = messages(&site);
    assert!(m.starts_with("content/a.md:3:"), "{m}");
    assert!(m.contains("weight"), "{m}");

    // A key Zola does not know is ignored, as Zola ignores it, and warned of with its line.
    let site = shop(&[("content/b.md", "+++\ntitle = \"B\"\ntittle = \"B\"\n+++\n")]);
    let (_, report) = site.build();
    assert!(
        report.warnings.iter().any(|w| w.starts_with("content/b.md:3: `tittle` is not a front-matter field")),
        "{:?}",
        report.warnings
    );

    let site = shop(&[("content/c.md", "+++\ntitle = \"C\"\ndate = 2024-13-45\n+++\n")]);
    assert!(messages(&site).starts_with("content/c.md:3:"));

    let site = shop(&[("content/d.md", "no front matter here")]);
    assert!(messages(&site).contains("content/d.md:1:1: missing front matter"));
}

#[test]
fn shop_errors_are_precise() {
    let site = shop(&[
        ("content/compendium/a.md", &essence("LAV-PROV", "\"24.00\"", "calming")),
        ("content/compendium/b.md", &essence("LAV-PROV", "\"12.00\"", "calming")),
        ("content/compendium/c.md", &essence("ROSE", "\"0.00\"", "calming")),
        ("content/compendium/d.md", &essence("MINT", "\"4.00\"", "sleepy")),
        ("content/compendium/e.md", &essence("SAGE", "24.5", "calming")),
        ("content/compendium/f.md", "+++\ntitle = \"F\"\n[extra]\nsku = \"FIR\"\n+++\n"),
    ]);
    let m = messages(&site);
    let expected = [
        "content/compendium/b.md:6:1: duplicate SKU `LAV-PROV`: also in content/compendium/a.md",
        "content/compendium/c.md:7:1: front matter: extra.price: the price must be above zero, found 0.00",
        "content/compendium/d.md:4:1: front matter: unknown humour `sleepy`: expected one of calming, uplifting",
        "content/compendium/e.md:7:1: front matter: extra.price: 24.5 is a number; write the price as a decimal string, \"24.50\"",
        "content/compendium/f.md:2:1: front matter: extra.price: missing price",
    ];
    for e in expected {
        assert!(m.contains(e), "missing `{e}` in:\n{m}");
    }
    assert!(m.ends_with("5 problems found"), "{m}");
}

#[test]
fn links_anchors_shortcodes_and_taxonomies() {
    let site = shop(&[
        ("content/a.md", "+++\ntitle = \"A\"\n+++\nSee [b](@/b.md) and\n[c](@/missing.md).\n"),
        ("content/b.md", "+++\ntitle = \"B\"\n+++\n## Only heading\n\n[back](@/a.md#nowhere)\n"),
        ("content/c.md", "+++\ntitle = \"C\"\n+++\nText\n\n{{ ghost(x=1) }}\n"),
        ("content/d.md", "+++\ntitle = \"D\"\n[taxonomies]\ncolour = [\"red\"]\n+++\n"),
    ]);
    let m = messages(&site);
    for e in [
        "content/a.md:5:5: broken internal link `@/missing.md`: there is no content/missing.md",
        "content/b.md:6:1: broken anchor `@/a.md#nowhere`: it has no headings",
        "content/c.md:6:1: unknown shortcode `ghost`",
        "content/d.md:4:1: front matter: taxonomy `colour` is not declared in config.toml (declared: humour)",
    ] {
        assert!(m.contains(e), "missing `{e}` in:\n{m}");
    }
}

#[test]
fn template_errors_name_the_template() {
    let site = shop(&[("content/a.md", "+++\ntitle = \"A\"\n+++\n")]);
    site.write("templates/page.html", "line one\n{{ page.title | nosuchfilter }}\n");
    let m = messages(&site);
    assert!(m.contains("templates/page.html"), "{m}");
    assert!(m.contains("nosuchfilter"), "{m}");

    site.write("templates/page.html", "{% if page.title %}\nunclosed\n");
    let m = messages(&site);
    assert!(m.starts_with("templates/page.html:"), "{m}");

    site.write("templates/page.html", PAGE_TEMPLATE);
    site.write("content/x.md", "+++\ntitle = \"X\"\ntemplate = \"nope.html\"\n+++\n");
    assert!(messages(&site).contains("template `nope.html` does not exist"));
}

#[test]
fn config_errors_point_into_config() {
    let site = TestSite::with_files(&[("config.toml", "base_url = \"x\"\ntaxonomies = 3\n")]);
    let m = messages(&site);
    assert!(m.starts_with("config.toml:2:"), "{m}");
    let site = TestSite::with_files(&[("content/a.md", "+++\n+++\n")]);
    assert!(messages(&site).contains("no configuration file"));
}

#[test]
fn catalog_export_in_minor_units() {
    let site = shop(&[
        ("content/compendium/b.md", &essence("ROSE-OTTO", "\"95.50\"", "uplifting")),
        (
            "content/compendium/a.md",
            "+++\ntitle = \"Lavender\"\n[taxonomies]\nhumour = [\"calming\"]\n[extra]\nsku = \"LAV\"\nlatin_name = \"Lavandula angustifolia\"\nprice = \"24.00\"\n[[extra.sizes]]\nsku = \"LAV-10\"\nlabel = \"10 ml\"\nprice = \"24.00\"\n[[extra.sizes]]\nsku = \"LAV-30\"\nlabel = \"30 ml\"\nprice = \"58.00\"\n+++\n",
        ),
        ("content/compendium/draft.md", "+++\ntitle = \"Draft\"\ndraft = true\n[extra]\nsku = \"DRAFT\"\nprice = \"1.00\"\n+++\n"),
    ]);
    site.build();
    let catalog: atelier_domain::CatalogExport = serde_json::from_str(&site.read("catalog.json")).unwrap();
    assert_eq!(catalog.format, 1);
    let skus: Vec<&str> = catalog.essences.iter().map(|e| e.sku.as_str()).collect();
    assert_eq!(skus, ["LAV", "ROSE-OTTO"], "drafts are not for sale; entries in SKU order");
    let lav = &catalog.essences[0];
    assert_eq!((lav.price, lav.path.as_str(), lav.sizes[1].price), (2400, "/compendium/a/", 5800));
    assert_eq!(catalog.essences[1].price, 9550);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let nasty = [
        "+++\n+++\n{{",
        "+++\n+++\n{% a() %}",
        "+++\n+++\n{{ é(x=\"\") }}",
        "+++\ntitle = \"\u{0}\"\n+++\n",
        "+++\n[taxonomies]\n+++\n",
        "+++\n+++\n[a](@/)\n[b](@/#x)\n<!-- more",
        "\u{feff}+++\n+++\n# 🙂 {#}\n",
        "+++",
        "",
    ];
    for (i, text) in nasty.iter().enumerate() {
        let site = TestSite::with_files(&[
            ("config.toml", "base_url = \"https://x.example\""),
            ("templates/page.html", PAGE_TEMPLATE),
            ("templates/index.html", "i"),
            (&format!("content/p{i}.md"), text),
        ]);
        let _ = atelier_generator::build(site.options());
    }
}

#[test]
fn folio_plans_and_editions_name_file_line_and_field() {
    let folio_index = "+++\ntitle = \"Folio\"\n[[extra.plans]]\nid = \"quarterly\"\nname = \"The Folio\"\nprice = 64.0\ncadence = \"quarterly\"\n+++\n";
    let site = shop(&[
        ("content/compendium/a.md", &essence("LAV", "\"24.00\"", "calming")),
        ("content/folio/_index.md", folio_index),
        (
            "content/folio/spring.md",
            "+++\ntitle = \"Spring\"\ndate = 2027-03-01\n[extra]\nessences = [\"@/compendium/a.md\",\n  \"@/compendium/nothing.md\"]\n+++\n",
        ),
        ("content/folio/undated.md", "+++\ntitle = \"Undated\"\n[extra]\nessences = [\"@/compendium/a.md\"]\n+++\n"),
        (
            "content/folio/twice.md",
            "+++\ntitle = \"Twice\"\ndate = 2027-06-01\n[extra]\nessences = [\"@/compendium/a.md\", \"@/compendium/a.md\"]\n+++\n",
        ),
    ]);
    let m = messages(&site);
    for e in [
        "content/folio/_index.md:6:1: front matter: extra.plans[0].price: 64 is a number; write the price as a decimal string, \"64.00\"",
        "content/folio/spring.md:6:1: front matter: extra.essences[1]: @/compendium/nothing.md is not an essence of the Compendium",
        "content/folio/undated.md:2:1: a Folio edition needs a `date`",
        "content/folio/twice.md:5:1: front matter: extra.essences[1]: ",
        "is listed twice (an edition holds one bottle of each)",
    ] {
        assert!(m.contains(e), "missing `{e}` in:\n{m}");
    }
}

#[test]
fn folio_exported_with_the_catalog() {
    let site = shop(&[
        ("content/compendium/a.md", &essence("LAV", "\"24.00\"", "calming")),
        (
            "content/folio/_index.md",
            "+++\ntitle = \"Folio\"\n[[extra.plans]]\nid = \"quarterly\"\nname = \"The Folio\"\nprice = \"64.00\"\ncadence = \"quarterly\"\n[[extra.plans]]\nid = \"year\"\nname = \"A year\"\nprice = \"60.00\"\ncadence = \"annual\"\nactive = false\n+++\n",
        ),
        ("content/folio/b.md", "+++\ntitle = \"B\"\ndate = 2027-06-01\n[extra]\nessences = [\"@/compendium/a.md\"]\n+++\n"),
        (
            "content/folio/a.md",
            "+++\ntitle = \"A\"\ndate = 2027-03-01\n[extra]\nessences = [\"@/compendium/a.md\"]\n+++\nThe *first* edition, with [lavender](@/compendium/a.md).\n",
        ),
        ("content/folio/draft.md", "+++\ntitle = \"D\"\ndate = 2027-01-01\ndraft = true\n+++\n"),
    ]);
    site.build();
    let catalog: atelier_domain::CatalogExport = serde_json::from_str(&site.read("catalog.json")).unwrap();
    let plans: Vec<(&str, i64, i64, bool)> =
        catalog.folio_plans.iter().map(|p| (p.id.as_str(), p.price, p.period_price(), p.active)).collect();
    assert_eq!(plans, [("quarterly", 6400, 6400, true), ("year", 6000, 24000, false)]);
    let editions: Vec<(&str, &str, &[String])> =
        catalog.folio_editions.iter().map(|e| (e.slug.as_str(), e.date.as_str(), &e.skus[..])).collect();
    let lav = ["LAV".to_string()];
    assert_eq!(editions, [("a", "2027-03-01", &lav[..]), ("b", "2027-06-01", &lav[..])], "oldest first, no drafts");
    // The subscribers' e-mail is the edition's page text, as HTML and as plain text.
    let first = &catalog.folio_editions[0];
    assert!(first.html.contains("<em>first</em>") && first.html.contains("/compendium/a/\""), "{}", first.html);
    assert!(first.text.starts_with("The first edition, with lavender (http"), "{}", first.text);
}

/// A multilingual site as an editor might get it wrong.
fn multilingual(files: &[(&str, &str)]) -> TestSite {
    let mut all = vec![
        (
            "config.toml",
            "base_url = \"https://shop.example\"\ntaxonomies = [{ name = \"tags\" }]\n[languages.fr]\ntaxonomies = [{ name = \"etiquettes\" }]\n[languages.fr.translations]\nhome = \"Accueil\"\n[translations]\nhome = \"Home\"\n",
        ),
        ("templates/page.html", "{{ page.title }}"),
        ("templates/section.html", "{{ section.title }}"),
        ("templates/index.html", "{{ trans(key=\"home\", lang=lang) }}"),
        ("templates/taxonomy_list.html", "list"),
        ("templates/taxonomy_single.html", "single"),
    ];
    all.extend_from_slice(files);
    TestSite::with_files(&all)
}

#[test]
fn multilingual_mistakes_name_the_file_and_the_language() {
    // A file in a language the site does not have.
    let site = multilingual(&[("content/about.de.md", "+++\ntitle = \"Über\"\n+++\n")]);
    let m = messages(&site);
    assert!(m.contains("content/about.de.md") && m.contains("`de`") && m.contains("[languages.de]"), "{m}");

    // A French page using the default language's taxonomy.
    let site = multilingual(&[("content/a.fr.md", "+++\ntitle = \"A\"\n[taxonomies]\ntags = [\"x\"]\n+++\n")]);
    let m = messages(&site);
    assert!(m.starts_with("content/a.fr.md:4:") && m.contains("`tags`") && m.contains("`fr`"), "{m}");
    assert!(m.contains("etiquettes"), "{m}");

    // A word `trans` has no translation for.
    let site = multilingual(&[
        ("templates/page.html", "{{ trans(key=\"cart\", lang=lang) }}"),
        ("content/a.md", "+++\n+++\n"),
    ]);
    let m = messages(&site);
    assert!(m.contains("templates/page.html") && m.contains("`cart`") && m.contains("[translations]"), "{m}");
    let site = multilingual(&[
        ("templates/page.html", "{{ trans(key=\"home\", lang=\"es\") }}"),
        ("content/a.md", "+++\n+++\n"),
    ]);
    let m = messages(&site);
    assert!(m.contains("`lang` is \"es\"") && m.contains("en, fr"), "{m}");

    // An option a language cannot have, and a language code that cannot be a URL segment.
    let site = multilingual(&[("config.toml", "base_url = \"https://x.example\"\n[languages.fr]\ntitel = \"x\"\n")]);
    let m = messages(&site);
    assert!(m.starts_with("config.toml:3:") && m.contains("titel"), "{m}");
    let site = multilingual(&[("config.toml", "base_url = \"https://x.example\"\n[languages.\"f/r\"]\n")]);
    assert!(messages(&site).contains("`f/r` is not a language code"), "{}", messages(&site));

    // The default language's options given twice.
    let site = multilingual(&[(
        "config.toml",
        "base_url = \"https://x.example\"\ntitle = \"A\"\n[languages.en]\ntitle = \"B\"\n[languages.fr]\n",
    )]);
    assert!(messages(&site).contains("`title` of the default language is set twice"), "{}", messages(&site));
}

#[test]
fn a_translated_essence_is_the_same_bottle_not_a_second_sku() {
    let config = format!("{CONFIG}[languages.fr]\ntaxonomies = [{{ name = \"humour\" }}]\n");
    let site = shop(&[
        ("config.toml", &config),
        ("content/compendium/lavender.md", &essence("LAV-10", "\"12.50\"", "calming")),
        // The French page carries no `[extra]` of its own, as a translation would.
        ("content/compendium/lavender.fr.md", "+++\ntitle = \"Lavande\"\n+++\nUne essence.\n"),
    ]);
    site.build();
    let catalog = site.read("catalog.json");
    assert_eq!(catalog.matches("\"slug\": \"lavender\"").count(), 1, "{catalog}");
    assert!(site.read("fr/compendium/lavender/index.html").contains("Lavande"));
}
