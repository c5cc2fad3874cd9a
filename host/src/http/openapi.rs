//! What the handlers' annotations leave out of the OpenAPI document and
//! every operation shares, added in one pass so that the document tells
//! the truth about every answer a client can get:
//!
//! - every error answer is `application/problem+json` with the `Problem`
//!   schema (the annotations say `body = Problem`, which utoipa documents
//!   as `application/json`);
//! - the statuses any operation can answer whatever its handler does: 400
//!   (a path id, query or body that does not parse), 401 and 403 where a
//!   token is needed, 413, 415 and 422 where there is a body, 429 (rate limits,
//!   `/v1/` only), 503 (load shedding, a backing store down) and 500.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// State the limits that come from the configuration where a generated
/// client can read them: the batch's item count (`verify.max_batch_items`;
/// `sigil verify-batch` sizes its chunks from it).
pub fn state_limits(openapi: &mut OpenApi, config: &crate::config::Config) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(batch))) = components.schemas.get_mut("BatchRequest") else {
        return;
    };
    if let Some(RefOr::T(Schema::Array(items))) = batch.properties.get_mut("items") {
        items.max_items = Some(config.verify.max_batch_items);
        if matches!(items.items, ArrayItems::False) {
            tracing::warn!("BatchRequest.items has no item schema");
        }
    }
}

/// Apply the shared answers to every operation of `openapi`.
pub fn make_truthful(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        for operation in operations(item) {
            complete(path, operation);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))),
        )
        .build()
}

/// Whether a response's body is the `Problem` schema (or it has none).
fn names_problem(response: &Response) -> bool {
    response.content.values().all(|content| {
        matches!(&content.schema, Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem"))
    })
}

fn complete(path: &str, operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let has_query = operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty());
    let limited = path.starts_with("/v1/");
    let responses = &mut operation.responses.responses;

    // Error answers the annotation declared with the `Problem` body are
    // served as problems (`/ready`'s 503 is its own JSON document).
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        if let RefOr::T(response) = response
            && names_problem(response)
        {
            let description = response.description.clone();
            *response = problem(&description);
        }
    }

    let mut shared = vec![
        (
            "400",
            "The request does not parse: a path id, a query parameter or the body.",
        ),
        (
            "500",
            "An unexpected server fault (logged with the request id).",
        ),
        (
            "503",
            "Too many requests in flight (`overloaded`, with Retry-After) or a backing store unavailable.",
        ),
    ];
    if secured {
        shared.push((
            "401",
            "No token, or one that is invalid, expired or revoked.",
        ));
        shared.push((
            "403",
            "The token lacks the permission this operation needs.",
        ));
    }
    if has_body || has_query {
        shared.push((
            "422",
            "The body or a parameter parses but is not valid: a field missing, unknown or out of range (`invalid_body`, or a code naming the field).",
        ));
    }
    if has_body {
        shared.push(("413", "The body is larger than the configured limit."));
        shared.push(("415", "The body is not of the documented media type."));
    }
    if limited {
        shared.push((
            "429",
            "A rate limit or quota refused the request (Retry-After says when to try again).",
        ));
    }
    for (status, description) in shared {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem(description)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> OpenApi {
        let state_free = crate::config::Config::default();
        crate::http::api(&state_free).1
    }

    #[test]
    fn the_batch_maximum_is_stated() {
        let mut config = crate::config::Config::default();
        config.verify.max_batch_items = 321;
        let mut openapi = crate::http::api(&config).1;
        state_limits(&mut openapi, &config);
        let json = serde_json::to_value(&openapi).expect("serialises");
        let items = &json["components"]["schemas"]["BatchRequest"]["properties"]["items"];
        assert_eq!(items["maxItems"].as_u64(), Some(321), "{items}");
    }

    #[test]
    fn every_error_answer_is_a_documented_problem() {
        let mut openapi = document();
        make_truthful(&mut openapi);
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in operations(item) {
                let id = operation.operation_id.clone().unwrap_or_default();
                let responses = &operation.responses.responses;
                for status in ["400", "500", "503"] {
                    assert!(responses.contains_key(status), "{path} {id}: no {status}");
                }
                for (status, response) in responses {
                    if (status.starts_with('4') || status.starts_with('5')) && path != "/ready" {
                        let RefOr::T(response) = response else {
                            panic!("{path} {id} {status}: a reference");
                        };
                        assert_eq!(
                            response.content.keys().collect::<Vec<_>>(),
                            [PROBLEM_JSON],
                            "{path} {id} {status}"
                        );
                    }
                }
            }
        }
    }
}
