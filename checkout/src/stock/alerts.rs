//! Low-stock alerts and build hooks: once per crossing of a SKU's threshold, staff get an
//! e-mail and the site's build hook is called; the hook is called again when a SKU sells out
//! and when it returns. All of it goes through the outbox so nothing is lost.

use sqlx::{Any, Row, Transaction};

use crate::ids::new_id;

/// Call after any change to a SKU's stock, inside the same transaction.
pub async fn after_stock_change(tx: &mut Transaction<'static, Any>, sku: &str) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "select s.on_hand, s.reserved, s.low_threshold, s.low_alerted, s.sold_out_hooked, p.title, p.label
         from stock s join product p on p.sku = s.sku where s.sku = $1",
    )
    .bind(sku)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else { return Ok(()) };
    let available = r.get::<i64, _>("on_hand") - r.get::<i64, _>("reserved");
    let threshold: i64 = r.get("low_threshold");
    let alerted = r.get::<i64, _>("low_alerted") == 1;
    let mut rebuild = false;
    if available <= threshold && !alerted {
        let claimed = sqlx::query("update stock set low_alerted = 1 where sku = $1 and low_alerted = 0")
            .bind(sku)
            .execute(&mut **tx)
            .await?;
        if claimed.rows_affected() == 1 {
            let title = format!("{} {}", r.get::<String, _>("title"), r.get::<String, _>("label"));
            let mail = crate::notify::low_stock_alert(sku, &title, available, threshold);
            let crossing = new_id("x");
            crate::notify::enqueue(
                tx,
                "low_stock",
                &format!("low-stock:{sku}:{crossing}"),
                crate::notify::STAFF,
                &mail,
            )
            .await?;
            rebuild = true;
        }
    } else if available > threshold && alerted {
        sqlx::query("update stock set low_alerted = 0 where sku = $1").bind(sku).execute(&mut **tx).await?;
        rebuild = true;
    }
    // The static pages show "sold out": rebuild when a SKU sells out and when it returns.
    let hooked = r.get::<i64, _>("sold_out_hooked") == 1;
    if (available <= 0) != hooked {
        let flipped = sqlx::query("update stock set sold_out_hooked = $1 where sku = $2 and sold_out_hooked = $3")
            .bind(i64::from(!hooked))
            .bind(sku)
            .bind(i64::from(hooked))
            .execute(&mut **tx)
            .await?;
        rebuild |= flipped.rows_affected() == 1;
    }
    // Whoever asked to hear of this size hears now, once: queued with the change that made it.
    if available > 0 {
        crate::wishlist::back_in_stock::notify(tx, sku).await?;
    }
    // One change crossing both lines (low and sold out) asks for one build, not two.
    if rebuild {
        crate::notify::enqueue_build_hook(tx, &format!("{sku}:{}", new_id("x"))).await?;
    }
    Ok(())
}
