//! Cursor pagination: lists answer `{"items": [...], "next_cursor": ...}`;
//! the cursor is the last item's sort key, base64url-encoded JSON, opaque
//! to clients and stable under inserts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use crate::store::Page;

/// A page of items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// A list that always fits one page (the catalogue, the plugin
    /// versions, the recent list): the same shape, with no next page.
    pub fn complete(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// The usual query parameters of a list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page (capped by the server).
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct Position {
    t: DateTime<Utc>,
    id: Uuid,
}

/// Encode a (time, id) position.
pub fn encode_cursor(time: DateTime<Utc>, id: Uuid) -> String {
    let json = serde_json::to_vec(&Position { t: time, id }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The page a query asks for, with the limit capped at `max`.
pub fn page(
    cursor: Option<&str>,
    limit: Option<u32>,
    max: u32,
) -> Result<Page<(DateTime<Utc>, Uuid)>, ApiError> {
    let after = match cursor {
        None | Some("") => None,
        Some(cursor) => {
            let position: Position = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_cursor",
                        "the cursor is not one this server issued",
                    )
                })?;
            Some((position.t, position.id))
        }
    };
    let limit = limit.unwrap_or(max.min(50)).clamp(1, max);
    Ok(Page {
        after,
        limit: i64::from(limit) + 1,
    })
}

/// Cut a fetched list (one more than asked, see [`page`]) into a page.
pub fn paged<T>(
    mut items: Vec<T>,
    page: &Page<(DateTime<Utc>, Uuid)>,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Paged<T> {
    let wanted = usize::try_from(page.limit - 1).unwrap_or(0);
    let next_cursor = if items.len() > wanted {
        items.truncate(wanted);
        items.last().map(|item| {
            let (time, id) = key(item);
            encode_cursor(time, id)
        })
    } else {
        None
    };
    Paged { items, next_cursor }
}
