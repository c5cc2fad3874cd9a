//! Cursor pagination: lists answer `{"items": [...], "next_cursor": ...}`;
//! the cursor is the last item's sort key, base64url-encoded JSON, opaque
//! to clients and stable under inserts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use crate::app::AppState;
use crate::store::audit::AuditEvent;
use crate::store::keys::KeyRow;
use crate::store::text::StoredTime;
use crate::store::users::User;
use crate::store::verifications::{BatchView, RecordView};
use crate::store::{Page, StoreError};

/// Where a listing continues: the last item's sort key.
pub type Position = (DateTime<Utc>, Uuid);

/// An item of a listing ordered by (time, id): its position is the cursor
/// of the page it ends.
pub trait Listed {
    /// The item's sort key, in the order its store query uses.
    fn position(&self) -> Position;
}

impl Listed for KeyRow {
    fn position(&self) -> Position {
        (self.created_at, self.id)
    }
}

impl Listed for RecordView {
    fn position(&self) -> Position {
        (self.verified_at, self.id)
    }
}

impl Listed for BatchView {
    fn position(&self) -> Position {
        (self.verified_at, self.id)
    }
}

impl Listed for AuditEvent {
    fn position(&self) -> Position {
        (self.occurred_at, self.id)
    }
}

impl Listed for User {
    fn position(&self) -> Position {
        (self.created_at, self.id)
    }
}

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

    /// The same page with every item converted (rows to views).
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(convert).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// One page of a listing: the cursor is decoded and the limit capped
/// ([`page`]), `list` fetches one item more than the page holds, and the
/// answer is cut to a page with its next cursor ([`paged`]). `list` runs
/// the store query, under the caller's row-level security where the table
/// has it (`state.store.acting_for`).
pub async fn fetch_page<T: Listed>(
    state: &AppState,
    cursor: Option<&str>,
    limit: Option<u32>,
    list: impl AsyncFnOnce(Page<Position>) -> Result<Vec<T>, StoreError>,
) -> Result<Paged<T>, ApiError> {
    let page = page(cursor, limit, state.config.http.max_page_size)?;
    let items = list(page).await?;
    Ok(paged(items, &page))
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
struct Cursor {
    t: DateTime<Utc>,
    id: Uuid,
}

/// Encode a (time, id) position.
pub fn encode_cursor(time: DateTime<Utc>, id: Uuid) -> String {
    let json = serde_json::to_vec(&Cursor { t: time, id }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The page a query asks for, with the limit capped at `max`.
pub fn page(
    cursor: Option<&str>,
    limit: Option<u32>,
    max: u32,
) -> Result<Page<Position>, ApiError> {
    let after = match cursor {
        None | Some("") => None,
        Some(cursor) => {
            let position: Cursor = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
                // A time this server never issued (nor PostgreSQL can hold).
                .filter(|position| StoredTime::parse(position.t).is_ok())
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
pub fn paged<T: Listed>(mut items: Vec<T>, page: &Page<Position>) -> Paged<T> {
    let wanted = usize::try_from(page.limit - 1).unwrap_or(0);
    let next_cursor = if items.len() > wanted {
        items.truncate(wanted);
        items.last().map(|item| {
            let (time, id) = item.position();
            encode_cursor(time, id)
        })
    } else {
        None
    };
    Paged { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    struct Item(Position);

    impl Listed for Item {
        fn position(&self) -> Position {
            self.0
        }
    }

    fn at(second: i64) -> Position {
        (
            DateTime::from_timestamp(1_700_000_000 + second, 0).expect("in range"),
            Uuid::from_u128(second as u128),
        )
    }

    #[test]
    fn a_cursor_round_trips_to_the_position_it_encodes() {
        let (time, id) = at(7);
        let cursor = encode_cursor(time, id);
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let page = page(Some(&cursor), Some(10), 100).expect("accepted");
        assert_eq!(page.after, Some((time, id)));
    }

    #[test]
    fn no_cursor_or_an_empty_one_starts_at_the_top() {
        assert_eq!(page(None, None, 100).expect("accepted").after, None);
        assert_eq!(page(Some(""), None, 100).expect("accepted").after, None);
    }

    #[test]
    fn a_cursor_this_server_did_not_issue_is_refused() {
        let not_json = URL_SAFE_NO_PAD.encode(b"not json");
        let wrong_shape = URL_SAFE_NO_PAD.encode(br#"{"t":"yesterday","id":1}"#);
        for cursor in ["***", "a", not_json.as_str(), wrong_shape.as_str()] {
            let error = page(Some(cursor), None, 100).expect_err("refused");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{cursor}");
            assert_eq!(error.code(), "invalid_cursor");
        }
    }

    #[test]
    fn the_limit_is_capped_and_one_more_item_is_fetched() {
        assert_eq!(page(None, None, 100).expect("accepted").limit, 51);
        assert_eq!(page(None, None, 20).expect("accepted").limit, 21);
        assert_eq!(page(None, Some(0), 100).expect("accepted").limit, 2);
        assert_eq!(page(None, Some(500), 100).expect("accepted").limit, 101);
    }

    #[test]
    fn a_full_page_ends_with_the_cursor_of_its_last_item() {
        let page = page(None, Some(2), 100).expect("accepted");
        let items = vec![Item(at(3)), Item(at(2)), Item(at(1))];
        let paged = paged(items, &page);
        assert_eq!(paged.items.len(), 2);
        let (time, id) = at(2);
        assert_eq!(paged.next_cursor, Some(encode_cursor(time, id)));
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let page = page(None, Some(2), 100).expect("accepted");
        let paged = paged(vec![Item(at(2)), Item(at(1))], &page);
        assert_eq!(paged.items.len(), 2);
        assert_eq!(paged.next_cursor, None);
        assert_eq!(paged.map(|item| item.0).items, vec![at(2), at(1)]);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Any time PostgreSQL and this server hold (years 1-9999), to the
    /// microsecond as `timestamptz` stores it.
    fn storable_time() -> impl Strategy<Value = DateTime<Utc>> {
        let first = -62_135_596_800_i64; // 0001-01-01T00:00:00Z
        let last = 253_402_300_799_i64; // 9999-12-31T23:59:59Z
        (first..=last, 0..1_000_000_u32).prop_map(|(secs, micros)| {
            DateTime::from_timestamp(secs, micros * 1000).expect("in chrono's range")
        })
    }

    proptest! {
        #[test]
        fn every_cursor_decodes_to_the_position_it_encodes(
            time in storable_time(),
            id in any::<u128>().prop_map(Uuid::from_u128),
        ) {
            let page = page(Some(&encode_cursor(time, id)), None, 100).expect("accepted");
            prop_assert_eq!(page.after, Some((time, id)));
        }

        #[test]
        fn any_other_text_is_an_invalid_cursor_or_a_position(text in ".{1,64}") {
            match page(Some(&text), None, 100) {
                Ok(page) => prop_assert!(page.after.is_some()),
                Err(error) => prop_assert_eq!(error.code(), "invalid_cursor"),
            }
        }
    }

    #[test]
    fn a_cursor_outside_the_storable_years_is_refused() {
        let far = DateTime::from_timestamp(300_000_000_000, 0).expect("in chrono's range");
        let cursor = encode_cursor(far, Uuid::nil());
        let error = page(Some(&cursor), None, 100).expect_err("refused");
        assert_eq!(error.code(), "invalid_cursor");
    }
}
