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

/// The values a string field or parameter accepts, stated as enums in the
/// document (schema only: handlers read strings and refuse other values
/// with their own codes, e.g. `invalid_status`).
pub mod vocabulary {
    /// A key's status, as the key list filters on it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum KeyStatusName {
        /// Usable.
        Active,
        /// Revoked by its owner or an administrator.
        Revoked,
        /// Past its `expires_at`.
        Expired,
    }

    /// A user's status.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum UserStatusName {
        /// May log in and use tokens.
        Active,
        /// Kept, but may not log in.
        Inactive,
        /// Refused everywhere until reactivated.
        Suspended,
    }

    /// A curve's status.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum CurveStatusName {
        /// Served.
        Enabled,
        /// Refused until enabled again.
        Disabled,
    }
}

/// State the limits that come from the configuration or the parsers where a
/// generated client can read them: the batch's item count, 1 to
/// `verify.max_batch_items` (`sigil verify-batch` sizes its chunks from
/// it), and every list's `limit`, any 32-bit unsigned number, read as at
/// most `http.max_page_size`.
pub fn state_limits(openapi: &mut OpenApi, config: &crate::config::Config) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    if let Some(components) = openapi.components.as_mut()
        && let Some(RefOr::T(Schema::Object(batch))) = components.schemas.get_mut("BatchRequest")
        && let Some(RefOr::T(Schema::Array(items))) = batch.properties.get_mut("items")
    {
        items.min_items = Some(1);
        items.max_items = Some(config.verify.max_batch_items);
        if matches!(items.items, ArrayItems::False) {
            tracing::warn!("BatchRequest.items has no item schema");
        }
    }
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.name == "limit" {
                    state_page_limit(parameter, config.http.max_page_size);
                }
            }
        }
    }
}

/// `limit` parses as a `u32` and is capped, not refused, past the maximum.
fn state_page_limit(parameter: &mut utoipa::openapi::path::Parameter, max: u32) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    parameter.schema = Some(RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .into(),
    ));
    let default = max.min(50);
    parameter.description = Some(format!(
        "Items per page, default {default}: at most {max} are answered (a larger value is read as {max}; 0 as 1)."
    ));
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
    fn every_list_limit_is_a_capped_u32_and_statuses_are_enums() {
        let config = crate::config::Config::default();
        let mut openapi = crate::http::api(&config).1;
        state_limits(&mut openapi, &config);
        let json = serde_json::to_value(&openapi).expect("serialises");
        let mut limits = 0;
        for (path, item) in json["paths"].as_object().expect("paths") {
            for operation in item.as_object().expect("operations").values() {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if parameter["name"] == "limit" {
                        limits += 1;
                        let schema = &parameter["schema"];
                        assert_eq!(
                            schema["maximum"].as_u64(),
                            Some(u64::from(u32::MAX)),
                            "{path}"
                        );
                        assert_eq!(schema["minimum"].as_u64(), Some(0), "{path}");
                    }
                    if parameter["name"] == "status" {
                        assert!(
                            parameter["schema"]["enum"].is_array(),
                            "{path}: {parameter}"
                        );
                    }
                }
            }
        }
        assert!(limits >= 6, "{limits} lists with a limit");
        let batch = &json["components"]["schemas"]["BatchRequest"]["properties"]["items"];
        assert_eq!(batch["minItems"].as_u64(), Some(1), "{batch}");
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
