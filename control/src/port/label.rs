//! `/label...`: the label a listener shows in `Via-Goto`.

use super::{Label, PortState};
use crate::api::Table;
use crate::body::ok;

pub fn table() -> Table<PortState> {
    Table::<PortState>::new("/label")
        .get("/label", |p, _| Ok(ok(p.label_text())))
        .post("/label/set/{label}", |p, q| {
            let label = q.param("label");
            *p.label.write() = Label::new(label)?;
            Ok(ok(format!("Label set to: {label}")))
        })
        .post("/label/clear", |p, _| {
            *p.label.write() = Label::new(&p.default_label)?;
            Ok(ok(format!("Label reset to: {}", p.default_label)))
        })
}
