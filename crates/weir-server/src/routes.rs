//! The route table: every route of the server with its methods, built together with the axum
//! router so the two cannot disagree. Tests enumerate it (the route × caller matrix), so a new
//! route that nobody thought about fails them.

use axum::Router;
use axum::routing::MethodRouter;

use crate::AppState;

/// One route: its path template and the methods it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    /// `Some(what)` for a Hub surface weir does not offer: every method answers 501
    /// `not_implemented`, before any lookup, so it says nothing about any repo.
    pub unsupported: Option<&'static str>,
    /// The resource family (the handler module), the OpenAPI tag.
    pub tag: &'static str,
}

/// A router and the table of what it routes.
pub struct Routes {
    pub(crate) router: Router<AppState>,
    pub(crate) table: Vec<RouteInfo>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds a route; `methods` names what `handler` answers (checked by the matrix test, which
    /// sees a 405 for a method listed but not routed).
    pub fn add(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        handler: MethodRouter<AppState>,
    ) -> Routes {
        self.router = self.router.route(path, handler);
        self.table.push(RouteInfo {
            path,
            methods,
            unsupported: None,
            tag: "",
        });
        self
    }

    /// A Hub surface weir does not offer (`what` names it): an explicit 501 `not_implemented`
    /// on every method, as self-hosted Hub peers answer, rather than a 404 that reads like a
    /// missing repo.
    pub fn unsupported(mut self, path: &'static str, what: &'static str) -> Routes {
        self.router = self.router.route(
            path,
            axum::routing::any(move || async move { crate::ApiError::not_implemented(what) }),
        );
        self.table.push(RouteInfo {
            path,
            methods: &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            unsupported: Some(what),
            tag: "",
        });
        self
    }

    /// Names the resource family of the routes added so far that have none.
    pub fn tag(mut self, tag: &'static str) -> Routes {
        for r in self.table.iter_mut().filter(|r| r.tag.is_empty()) {
            r.tag = tag;
        }
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }
}

impl Default for Routes {
    fn default() -> Routes {
        Routes::new()
    }
}

/// Every route of the server, as the router has them.
pub fn table() -> Vec<RouteInfo> {
    crate::all_routes().table
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_lists_each_route_once_with_its_methods() {
        let t = super::table();
        assert!(t.len() > 60, "{} routes", t.len());
        let mut seen = std::collections::BTreeSet::new();
        for r in &t {
            assert!(seen.insert(r.path), "{} twice", r.path);
            assert!(!r.methods.is_empty(), "{} has no methods", r.path);
            assert!(!r.tag.is_empty(), "{} has no tag", r.path);
        }
    }
}
