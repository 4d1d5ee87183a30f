//! Model cards rendered from Markdown (pulldown-cmark) and sanitized (ammonia): no scripts, no
//! event handlers, no `javascript:` or `data:` links, no inline styles, and images only from
//! this server (a relative image resolves to the repo's file at `main`; an absolute one elsewhere
//! is dropped, so a card cannot make readers' browsers call out).

use std::borrow::Cow;

/// The most of a card that is rendered (the rest is cut, with a note).
pub const MAX_RENDERED: usize = 512 * 1024;

/// The card's body (front matter removed) as safe HTML.
pub fn card_html(markdown: &str, repo: &str) -> String {
    let body = strip_front_matter(markdown);
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    opts.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    opts.insert(pulldown_cmark::Options::ENABLE_TASKLISTS);
    let parser = pulldown_cmark::Parser::new_ext(body, opts);
    let mut raw = String::with_capacity(body.len() * 2);
    pulldown_cmark::html::push_html(&mut raw, parser);
    sanitize(&raw, repo)
}

fn strip_front_matter(s: &str) -> &str {
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let Some(rest) = s
        .strip_prefix("---\n")
        .or_else(|| s.strip_prefix("---\r\n"))
    else {
        return s;
    };
    for end in ["\n---\n", "\n---\r\n"] {
        if let Some(i) = rest.find(end) {
            return &rest[i + end.len()..];
        }
    }
    if rest.ends_with("\n---") {
        return "";
    }
    s
}

/// Sanitizes rendered HTML for the model page.
pub fn sanitize(html: &str, repo: &str) -> String {
    let base = format!("/{repo}/resolve/main/");
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow ugc"))
        .url_relative(ammonia::UrlRelative::PassThrough)
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                return local_image(value, &base);
            }
            Some(Cow::Borrowed(value))
        });
    b.clean(html).to_string()
}

/// An image source kept only when it is a file of this repo at `main` (a relative path): never
/// another server, never another repo's file (each would be a request from every reader's
/// browser), never anything a browser would read differently (whitespace, controls, `\\`).
fn local_image<'a>(src: &'a str, base: &str) -> Option<Cow<'a, str>> {
    let s = src;
    if s.is_empty()
        || s.starts_with('/')
        || s.contains(':')
        || s.contains('\\')
        || s.contains('?')
        || s.contains('#')
        || s.contains('%')
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let rel = s.trim_start_matches("./");
    if rel.split('/').any(|seg| seg == "..") {
        return None;
    }
    Some(Cow::Owned(format!("{base}{rel}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_cards_render_inert() {
        assert!(
            local_image(
                "%2e%2e/%2e%2e/other/gated/resolve/main/x",
                "/a/b/resolve/main/"
            )
            .is_none()
        );
        let card = "---\nlicense: mit\n---\n# Title\n\n<script>alert(1)</script>\n\
            <img src=x onerror=alert(2)>\n\n[a](javascript:alert(3)) [b](data:text/html,hi)\n\n\
            <a href=\"https://ok.example\" onclick=\"alert(4)\">ok</a>\n\
            <div style=\"position:fixed\">s</div><iframe src=\"https://evil\"></iframe>\n\n\
            ![remote](https://tracker.example/p.png) ![local](images/fig.png) ![up](../../x.png)\n";
        let out = card_html(card, "acme/m");
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "href=\"javascript:",
            "href=\"data:",
            "style=",
            "<iframe",
            "src=\"https://tracker.example",
            "license: mit",
            "../",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains("<h1>Title</h1>"), "{out}");
        assert!(
            out.contains("src=\"/acme/m/resolve/main/images/fig.png\""),
            "{out}"
        );
        assert!(out.contains("href=\"https://ok.example\""), "{out}");
        assert!(
            out.contains("rel=\"noopener noreferrer nofollow ugc\""),
            "{out}"
        );
    }
}
