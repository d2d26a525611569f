//! The session list's query string (`GET <mount>/api/sessions?page=&pageSize=&status=&sort=
//! &order=&search=`): decoded by `serde_urlencoded` into [`ListQuery`], then checked in one step
//! into a [`ListRequest`] or the one parameter that is wrong.

use serde::Deserialize;

use crate::store::session_listing::{SortKey, StatusFilter};

/// Rows per page when the query names none.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 25;
/// The most rows a page may ask for.
pub(crate) const MAX_PAGE_SIZE: u64 = 100;
/// The longest search text, in bytes.
const MAX_SEARCH: usize = 200;
const MAX_PAGE: u64 = 1_000_000;

/// The query string as sent: every parameter optional, unknown ones ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    page: Option<String>,
    page_size: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    search: Option<String>,
}

/// A valid request for one page of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRequest {
    /// From 1.
    pub(crate) page: u64,
    pub(crate) page_size: u64,
    pub(crate) status: StatusFilter,
    pub(crate) sort: SortKey,
    pub(crate) descending: bool,
    /// Trimmed; `None` when empty.
    pub(crate) search: Option<String>,
}

/// The parameter at fault and what it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadParameter {
    pub(crate) name: &'static str,
    pub(crate) why: &'static str,
}

impl ListRequest {
    /// The request a raw query string asks for.
    pub(crate) fn parse(query: &str) -> Result<Self, BadParameter> {
        let query: ListQuery = serde_urlencoded::from_str(query).map_err(|_| BadParameter {
            name: "query",
            why: "must be a form-encoded query string naming each parameter at most once",
        })?;
        query.validate()
    }
}

impl ListQuery {
    fn validate(self) -> Result<ListRequest, BadParameter> {
        let bad = |name, why| BadParameter { name, why };
        let page = number(self.page, 1, MAX_PAGE)
            .ok_or(bad("page", "must be a whole number from 1 to 1000000"))?;
        let page_size = number(self.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            .ok_or(bad("pageSize", "must be a whole number from 1 to 100"))?;
        let status = match self.status.as_deref() {
            None | Some("all") => StatusFilter::All,
            Some("active") => StatusFilter::Active,
            Some("expired") => StatusFilter::Expired,
            Some(_) => return Err(bad("status", "must be all, active or expired")),
        };
        let sort = match self.sort.as_deref() {
            None | Some("expiresAt") => SortKey::ExpiresAt,
            Some("createdAt") => SortKey::CreatedAt,
            Some("updatedAt") => SortKey::UpdatedAt,
            Some(_) => return Err(bad("sort", "must be expiresAt, createdAt or updatedAt")),
        };
        let descending = match self.order.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(bad("order", "must be asc or desc")),
        };
        let search = self
            .search
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > MAX_SEARCH) {
            return Err(bad("search", "must be at most 200 characters"));
        }
        Ok(ListRequest {
            page,
            page_size,
            status,
            sort,
            descending,
            search,
        })
    }
}

/// `value` as a whole number from 1 to `max`, or `default` when absent.
fn number(value: Option<String>, default: u64, max: u64) -> Option<u64> {
    match value {
        None => Some(default),
        Some(v) => v.parse().ok().filter(|n| (1..=max).contains(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(query: &str) -> &'static str {
        ListRequest::parse(query).unwrap_err().name
    }

    #[test]
    fn an_empty_query_is_the_first_page_newest_expiry_first() {
        let request = ListRequest::parse("").unwrap();
        assert_eq!(
            request,
            ListRequest {
                page: 1,
                page_size: DEFAULT_PAGE_SIZE,
                status: StatusFilter::All,
                sort: SortKey::ExpiresAt,
                descending: true,
                search: None,
            }
        );
    }

    #[test]
    fn every_parameter_is_read_and_decoded() {
        let request = ListRequest::parse(
            "page=3&pageSize=50&status=expired&sort=createdAt&order=asc&search=+ali%63e%40x+&_=1",
        )
        .unwrap();
        assert_eq!(request.page, 3);
        assert_eq!(request.page_size, 50);
        assert_eq!(request.status, StatusFilter::Expired);
        assert_eq!(request.sort, SortKey::CreatedAt);
        assert!(!request.descending);
        assert_eq!(request.search.as_deref(), Some("alice@x"));
        assert_eq!(ListRequest::parse("search=+++").unwrap().search, None);
    }

    #[test]
    fn each_bad_value_names_its_parameter() {
        assert_eq!(bad("page=0"), "page");
        assert_eq!(bad("page=1000001"), "page");
        assert_eq!(bad("page=-1"), "page");
        assert_eq!(bad("pageSize=101"), "pageSize");
        assert_eq!(bad("pageSize=ten"), "pageSize");
        assert_eq!(bad("status=gone"), "status");
        assert_eq!(bad("sort=name"), "sort");
        assert_eq!(bad("order=up"), "order");
        assert_eq!(bad(&format!("search={}", "a".repeat(201))), "search");
        assert_eq!(bad("page=1&page=2"), "query");
    }
}
