//! Testimonials (FR-032): words from customers that staff write down or approve; the approved
//! ones, featured first, are what the home page shows, read from `data/testimonials.json`
//! (written by `atelier export` and by `atelier serve`, and fetched from
//! `GET /api/testimonials` by a production build). Every change is audited, and a change to
//! what is shown calls the site's build hook.

pub mod http;

use serde::Serialize;
use serde_json::json;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::staff::audit::{self, Actor, Change};

/// The longest quote kept, in characters.
pub const QUOTE_MAX: usize = 600;

/// A testimonial as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct Testimonial {
    /// Our id.
    pub testimonial_id: String,
    /// Who said it.
    pub author: String,
    /// Their title or town, shown after the name (may be empty).
    pub title: String,
    /// What they said.
    pub quote: String,
    /// Out of five, when they gave one.
    pub rating: Option<i64>,
    /// Shown before the others.
    pub featured: bool,
    /// Shown at all.
    pub approved: bool,
    /// Who wrote it down.
    pub created_by: String,
    /// When (unix seconds).
    pub created_at: i64,
}

/// A testimonial as the home page reads it (`data/testimonials.json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Shown {
    /// What they said.
    pub quote: String,
    /// Who said it.
    pub author: String,
    /// Their title or town.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Out of five.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    /// Featured (listed first).
    pub featured: bool,
}

type Row = (String, String, String, String, Option<i64>, i64, i64, String, i64);

fn of_row(
    (testimonial_id, author, title, quote, rating, featured, approved, created_by, created_at): Row,
) -> Testimonial {
    Testimonial {
        testimonial_id,
        author,
        title,
        quote,
        rating,
        featured: featured == 1,
        approved: approved == 1,
        created_by,
        created_at,
    }
}

const COLUMNS: &str = "testimonial_id, author, title, quote, rating, featured, approved, created_by, created_at";

/// Every testimonial, waiting ones first, then the shown, newest first.
pub async fn all(db: &Db) -> Result<Vec<Testimonial>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from testimonial order by approved, featured desc, created_at desc, testimonial_id"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(of_row).collect())
}

/// The approved ones as the home page shows them: featured first, then the newest.
pub async fn shown(db: &Db) -> Result<Vec<Shown>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from testimonial where approved = 1 order by featured desc, created_at desc, testimonial_id"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(of_row)
        .map(|t| Shown {
            quote: t.quote,
            author: t.author,
            place: Some(t.title).filter(|p| !p.is_empty()),
            rating: t.rating,
            featured: t.featured,
        })
        .collect())
}

/// The export's text: the shown testimonials as pretty JSON (a list).
pub async fn export_text(db: &Db) -> Result<String, sqlx::Error> {
    let shown = shown(db).await?;
    Ok(serde_json::to_string_pretty(&shown).unwrap_or_else(|_| "[]".into()) + "\n")
}

/// What staff write down.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Who said it.
    pub author: String,
    /// Their title or town.
    pub title: String,
    /// What they said.
    pub quote: String,
    /// Out of five, when given.
    pub rating: Option<i64>,
    /// Featured.
    pub featured: bool,
    /// Shown at once (the writer may approve).
    pub approved: bool,
}

/// Writes a testimonial down (audited); shown at once only when `approved`, which only those
/// who may approve ask for.
pub async fn add(db: &Db, actor: &Actor, draft: &Draft) -> ApiResult<Testimonial> {
    let author = draft.author.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = draft.title.split_whitespace().collect::<Vec<_>>().join(" ");
    let quote = draft.quote.trim();
    if author.is_empty() || author.chars().count() > 120 {
        return Err(ApiError::invalid("author", "who said it, in at most 120 characters"));
    }
    if title.chars().count() > 120 {
        return Err(ApiError::invalid("title", "at most 120 characters"));
    }
    if quote.is_empty() || quote.chars().count() > QUOTE_MAX {
        return Err(ApiError::invalid("quote", format!("what they said, in at most {QUOTE_MAX} characters")));
    }
    if draft.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(ApiError::invalid("rating", "a rating is from 1 to 5, or none"));
    }
    let t = now();
    let id = new_id("tst");
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "insert into testimonial (testimonial_id, author, title, quote, rating, featured, approved, created_by, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(&author)
    .bind(&title)
    .bind(quote)
    .bind(draft.rating)
    .bind(i64::from(draft.featured))
    .bind(i64::from(draft.approved))
    .bind(actor.label())
    .bind(t)
    .execute(&mut **tx)
    .await?;
    let change = Change {
        action: "testimonial.add",
        subject: Some(format!("testimonial:{id}")),
        before: None,
        after: Some(
            json!({ "author": author, "quote": quote, "approved": draft.approved, "featured": draft.featured }),
        ),
    };
    audit::record(&mut tx, actor, change).await?;
    if draft.approved {
        crate::notify::enqueue_build_hook(&mut tx, &format!("testimonials:{}", new_id("x"))).await?;
    }
    tx.commit().await?;
    let row: Row = sqlx::query_as(&format!("select {COLUMNS} from testimonial where testimonial_id = $1"))
        .bind(&id)
        .fetch_one(&db.pool)
        .await?;
    Ok(of_row(row))
}

/// A change to a testimonial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Show it (or not).
    Approve(bool),
    /// List it first (or not).
    Feature(bool),
    /// Delete it.
    Delete,
}

impl Edit {
    /// The form's name of it.
    pub fn parse(name: &str) -> Option<Edit> {
        Some(match name {
            "approve" => Edit::Approve(true),
            "hide" => Edit::Approve(false),
            "feature" => Edit::Feature(true),
            "unfeature" => Edit::Feature(false),
            "delete" => Edit::Delete,
            _ => return None,
        })
    }
}

/// Approves, hides, features or deletes a testimonial (audited); when what the home page shows
/// changes, the build hook is called.
pub async fn edit(db: &Db, actor: &Actor, testimonial_id: &str, edit: Edit) -> ApiResult<()> {
    let mut tx = db.begin_write().await?;
    let row: Option<Row> =
        sqlx::query_as(&format!("select {COLUMNS} from testimonial where testimonial_id = $1{}", tx.lock_rows()))
            .bind(testimonial_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(before) = row.map(of_row) else {
        return Err(ApiError::NotFound(format!("no testimonial {testimonial_id}")));
    };
    let (action, shown_changes) = match edit {
        Edit::Approve(on) => {
            sqlx::query("update testimonial set approved = $1, updated_at = $2 where testimonial_id = $3")
                .bind(i64::from(on))
                .bind(now())
                .bind(testimonial_id)
                .execute(&mut **tx)
                .await?;
            (if on { "testimonial.approve" } else { "testimonial.hide" }, before.approved != on)
        }
        Edit::Feature(on) => {
            sqlx::query("update testimonial set featured = $1, updated_at = $2 where testimonial_id = $3")
                .bind(i64::from(on))
                .bind(now())
                .bind(testimonial_id)
                .execute(&mut **tx)
                .await?;
            (if on { "testimonial.feature" } else { "testimonial.unfeature" }, before.approved && before.featured != on)
        }
        Edit::Delete => {
            sqlx::query("delete from testimonial where testimonial_id = $1")
                .bind(testimonial_id)
                .execute(&mut **tx)
                .await?;
            ("testimonial.delete", before.approved)
        }
    };
    let change = Change {
        action,
        subject: Some(format!("testimonial:{testimonial_id}")),
        before: Some(json!({ "author": before.author, "approved": before.approved, "featured": before.featured })),
        after: match edit {
            Edit::Approve(on) => Some(json!({ "approved": on })),
            Edit::Feature(on) => Some(json!({ "featured": on })),
            Edit::Delete => None,
        },
    };
    audit::record(&mut tx, actor, change).await?;
    if shown_changes {
        crate::notify::enqueue_build_hook(&mut tx, &format!("testimonials:{}", new_id("x"))).await?;
    }
    tx.commit().await?;
    Ok(())
}
