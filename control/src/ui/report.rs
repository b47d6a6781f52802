//! Self-contained HTML reports: the report page with the stylesheet, the
//! drawing code and the data inlined, so the file opens from disk with no
//! network. The data is the JSON the views read (`results`, `timeline`,
//! `figures`, `targets`, plus `title` and `generated`).

use serde_json::Value;

use super::routes::asset_text;

const TEMPLATE: &str = include_str!("assets/report.html");

/// The report page for `data`.
pub fn html(data: &Value) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    // Inside <script>, "</" could close the element early and "<!--"
    // would start a comment; escaped, they read the same as JSON.
    let json = json.replace("</", "<\\/").replace("<!--", "<\\u0021--");
    let title = data
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("goto report");
    TEMPLATE
        .replace("{{TITLE}}", &escape_html(title))
        .replace("{{STYLE}}", asset_text("style.css"))
        .replace("{{CHARTS}}", asset_text("charts.js"))
        .replace("{{VIEWS}}", asset_text("views.js"))
        .replace("{{DATA}}", &json)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_the_script() {
        let page = html(&serde_json::json!({"title": "<b>", "x": "</script><script>"}));
        assert!(!page.contains("</script><script>"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
