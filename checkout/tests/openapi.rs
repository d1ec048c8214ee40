//! The OpenAPI document is generated from the code: every route the router has is in it, and
//! every operation it lists is routed.

mod common;

use axum::http::StatusCode;
use common::{Engine, TestShop};

/// The (method, path) pairs the document lists.
fn documented() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(atelier_checkout::openapi_json()).unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let shop = TestShop::new(Engine::Sqlite).await;
    let ops = documented();
    assert!(ops.len() >= 19, "{ops:?}");
    for (method, path) in &ops {
        let uri = path.replace("{sku}", "LAV-10").replace("{order_id}", "ord_x").replace("{session}", "cs_x");
        let req = axum::http::Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        let r = shop.call(req).await;
        // The router's own answers to what it does not route: 405, or a 404 without a body.
        assert!(
            r.status != StatusCode::METHOD_NOT_ALLOWED && !(r.status == StatusCode::NOT_FOUND && r.body.is_empty()),
            "{method} {path} is documented but not routed: {}",
            r.status
        );
    }
    let health = shop.get("/api/health", None).await.json();
    assert_eq!(health["status"], "ok");
    assert!(atelier_checkout::views::check_templates().is_ok());
}

/// The router is made only of `routes!` calls, which document what they route: no module adds
/// a route any other way.
#[test]
fn every_route_is_added_through_the_document() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if [".route(", ".route_service(", ".nest_service(", ".nest(", ".fallback("]
                        .iter()
                        .any(|c| line.contains(c))
                    {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "routes added outside `routes!`:\n{}", offenders.join("\n"));
}

/// Every operation says what it answers, including the guard's refusal of cross-site posts
/// and the body limit.
#[test]
fn operations_list_their_answers() {
    let doc: serde_json::Value = serde_json::from_str(atelier_checkout::openapi_json()).unwrap();
    for (method, path) in documented() {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let answers = op["responses"].as_object().unwrap();
        assert!(answers.contains_key("500"), "{method} {path}");
        if method != "GET" {
            assert!(answers.contains_key("403"), "{method} {path}: the cross-site refusal");
        }
        if !op["requestBody"].is_null() {
            assert!(answers.contains_key("413"), "{method} {path}: the body limit");
        }
    }
    let checkout = &doc["paths"]["/api/checkout"]["post"];
    assert!(checkout["responses"]["429"].is_object());
    let input = &doc["components"]["schemas"]["CheckoutInput"];
    assert_eq!(input["properties"]["email"]["maxLength"], 254, "{input}");
    assert!(input["required"].as_array().unwrap().iter().any(|f| f == "country"), "{input}");
    let add = &doc["components"]["schemas"]["AddItem"]["properties"];
    assert_eq!((add["quantity"]["minimum"].as_i64(), add["quantity"]["maximum"].as_i64()), (Some(1), Some(12)));
}

/// `netlify.toml` holds copies of what the service defines: the site's security policy, and
/// the paths the CDN must hand to the service. Both are checked against their one definition.
#[test]
fn netlify_serves_the_sites_policy_and_proxies_every_service_path() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../netlify.toml");
    let netlify: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
    let site_headers = netlify["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["for"].as_str() == Some("/*"))
        .expect("headers for /*");
    assert_eq!(
        site_headers["values"]["Content-Security-Policy"].as_str(),
        Some(atelier_checkout::http::guard::CSP),
        "netlify.toml's policy is the service's CSP"
    );
    let proxied: Vec<String> = netlify["redirects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"].as_integer() == Some(200))
        .map(|r| r["from"].as_str().unwrap().to_string())
        .collect();
    let covered = |path: &str| {
        proxied.iter().any(|from| match from.strip_suffix("/*") {
            Some(prefix) => path.starts_with(&format!("{prefix}/")),
            None => from == path,
        })
    };
    for (_, path) in documented() {
        if atelier_checkout::http::meta::NOT_PROXIED.contains(&path.as_str()) {
            assert!(!covered(&path), "{path} is for the operators alone, but netlify.toml proxies it");
        } else {
            assert!(covered(&path), "{path} is a route of the service but netlify.toml does not proxy it");
        }
    }
}
