//! Every route's description, in one table beside the router's ([`crate::router::ROUTES`]):
//! what it takes and answers, and the policy acts it performs. The roles a route states
//! come from the policy's table ([`Act::roles`]), so they cannot drift from what is
//! enforced; path parameters come from the path template itself; query parameters and
//! bodies from the handlers' own types (`IntoParams`, `ToSchema`).

use crate::policy::Act;
use std::collections::BTreeMap;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, Components, ComponentsBuilder, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Ref, RefOr,
    Required, Tag,
};
use utoipa::{IntoParams, ToSchema};
use workroom_protocol::{ErrorBody, ErrorCode, Role};

use crate::http::{files, lifecycle, moderation, reports, rooms, screenshots};
use crate::service::{AnalyticsQuery, AuditPage, AuditQuery, AuditVerification, WorkView};
use workroom_protocol::analytics::DailyAnalytics;
use workroom_protocol::contacts::{ContactDetails, ReleaseRequest, Released, ReleasedContacts};
use workroom_protocol::http::{
    AccountMemberPut, BidAccepted, ContractEnded, FileInfo, FileLink, MemberList, RoomCreated,
    RoomList,
};
use workroom_protocol::legal::{ExportList, ExportRequest, ExportView, SigningKeyView};
use workroom_protocol::lifecycle::{
    BanQuery, BanStatus, ErasureList, HoldList, HoldRequest, HoldView, PurgeResult, RetentionPut,
    RetentionView, RevokeTokens as RevokeTokensBody, TerminateUser, Terminated, TokensRevoked,
};
use workroom_protocol::moderation::{
    CloseReport as CloseReportBody, ConnectionList, EndedGrantList, GrantList, GrantState,
    GrantView, ModeratedHistory, NewNotice, NewReport, NoticePosted, OpenGrant as OpenGrantBody,
    ReportCase, ReportList, ReportState, ReportStatus, ReportStatusList,
};
use workroom_protocol::tracker::{ScreenshotList, ScreenshotView};

/// The security scheme's name in the document.
pub(super) const BEARER: &str = "bearer";
/// The shared error response's name in the document.
pub(super) const ERROR_RESPONSE: &str = "Error";

type Schemas = Vec<(String, RefOr<Schema>)>;

/// How a route is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// From the acts' roles: no token, a bearer token, or either.
    Policy,
    /// A signed link: no token, the query carries the signature.
    SignedLink,
}

/// One route's description.
pub(super) struct RouteDoc {
    pub(super) method: &'static str,
    pub(super) path: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    acts: &'static [Act],
    access: Access,
    parameters: Vec<Parameter>,
    body: Option<RequestBody>,
    responses: Vec<(u16, Response)>,
    schemas: Schemas,
}

fn route(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        tag,
        summary,
        description: None,
        acts: &[],
        access: Access::Policy,
        parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
        schemas: Vec::new(),
    }
}

fn get(path: &'static str, tag: &'static str, summary: &'static str) -> RouteDoc {
    route("GET", path, tag, summary)
}
fn post(path: &'static str, tag: &'static str, summary: &'static str) -> RouteDoc {
    route("POST", path, tag, summary)
}
fn put(path: &'static str, tag: &'static str, summary: &'static str) -> RouteDoc {
    route("PUT", path, tag, summary)
}
fn delete(path: &'static str, tag: &'static str, summary: &'static str) -> RouteDoc {
    route("DELETE", path, tag, summary)
}

/// A reference to `T`'s component, registering it and every type it uses.
fn component<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    let name = T::name().into_owned();
    schemas.push((name.clone(), T::schema()));
    T::schemas(schemas);
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_content(schema: RefOr<Schema>) -> Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// Any bytes: `{}` (in OpenAPI 3.1 a media type without a schema is arbitrary content).
fn bytes_content() -> Content {
    ContentBuilder::new().build()
}

impl RouteDoc {
    /// The policy acts the route performs (one of them, depending on the request).
    fn acts(mut self, acts: &'static [Act]) -> Self {
        self.acts = acts;
        self
    }

    fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }

    fn signed_link(mut self) -> Self {
        self.access = Access::SignedLink;
        self
    }

    /// Query parameters from the handler's query type.
    fn query<Q: IntoParams>(mut self) -> Self {
        self.parameters
            .extend(Q::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// A component the parameters refer to.
    fn uses<T: ToSchema>(mut self) -> Self {
        component::<T>(&mut self.schemas);
        self
    }

    fn header(mut self, name: &str, description: &str, required: bool) -> Self {
        self.parameters.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
        self
    }

    /// A JSON request body of type `T`.
    fn body<T: ToSchema>(mut self) -> Self {
        let schema = component::<T>(&mut self.schemas);
        self.body = Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(schema))
                .build(),
        );
        self
    }

    /// A raw request body (an upload), streamed under its own size limit.
    fn bytes_body(mut self, media_type: &str, description: &str) -> Self {
        self.body = Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .description(Some(description))
                .content(media_type, bytes_content())
                .build(),
        );
        self
    }

    /// A JSON answer of type `T`.
    fn json<T: ToSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = component::<T>(&mut self.schemas);
        self.responses.push((
            status,
            ResponseBuilder::new()
                .description(description)
                .content("application/json", json_content(schema))
                .build(),
        ));
        self
    }

    /// A JSON request body described here: an object of the given required string fields
    /// (for bodies that are not protocol types).
    fn inline_body(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(string_object(fields)))
                .build(),
        );
        self
    }

    /// A JSON answer described here: an object of the given required string fields.
    fn inline_json(mut self, status: u16, description: &str, fields: &[(&str, &str)]) -> Self {
        self.responses.push((
            status,
            ResponseBuilder::new()
                .description(description)
                .content("application/json", json_content(string_object(fields)))
                .build(),
        ));
        self
    }

    /// A JSON answer that is a whole document of its own (described by its own standard).
    fn json_document(mut self, description: &str) -> Self {
        let schema = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(description))
            .build();
        self.responses.push((
            200,
            ResponseBuilder::new()
                .description(description)
                .content("application/json", json_content(schema.into()))
                .build(),
        ));
        self
    }

    /// A non-JSON answer.
    fn bytes(mut self, status: u16, media_type: &str, description: &str) -> Self {
        self.responses.push((
            status,
            ResponseBuilder::new()
                .description(description)
                .content(media_type, bytes_content())
                .build(),
        ));
        self
    }

    /// A file's content, streamed, with `Range` support.
    fn download(self) -> Self {
        self.header(
            "Range",
            "One byte range (`bytes=START-END`); other forms are ignored.",
            false,
        )
        .bytes(
            200,
            "*/*",
            "The content: the type read from its bytes when it is safe to show \
             (else `application/octet-stream`), `Content-Disposition: attachment`, \
             `ETag` (its SHA-256), `Cache-Control: private, no-store`.",
        )
        .bytes(206, "*/*", "The requested range (`Content-Range`).")
        .empty(416, "The range is outside the content.")
    }

    fn empty(mut self, status: u16, description: &str) -> Self {
        self.responses.push((
            status,
            ResponseBuilder::new().description(description).build(),
        ));
        self
    }

    /// The roles stated for the route, read from the policy (`None`: no token).
    pub(super) fn roles(&self) -> Vec<Option<Role>> {
        let mut roles: Vec<Option<Role>> = Vec::new();
        for act in self.acts {
            for role in act.roles() {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        roles
    }

    /// The template's `{name}` segments, in order.
    pub(super) fn path_parameters(&self) -> Vec<&'static str> {
        path_parameters(self.path)
    }

    fn operation(&self, schemas: &mut Schemas) -> Operation {
        let roles = self.roles();
        let public = roles.contains(&None);
        let named: Vec<&str> = roles.iter().flatten().map(|r| r.as_str()).collect();
        let (who, security) = match self.access {
            Access::SignedLink => (
                "No token: the link's signature (`user`, `expires`, `sig`) stands for one."
                    .to_string(),
                vec![SecurityRequirement::default()],
            ),
            Access::Policy if named.is_empty() => (
                "No token.".to_string(),
                vec![SecurityRequirement::default()],
            ),
            Access::Policy if public => (
                format!("Token optional; with one, roles: {}.", named.join(", ")),
                vec![
                    SecurityRequirement::new(BEARER, Vec::<String>::new()),
                    SecurityRequirement::default(),
                ],
            ),
            Access::Policy => (
                format!("Bearer token, roles: {}.", named.join(", ")),
                vec![SecurityRequirement::new(BEARER, Vec::<String>::new())],
            ),
        };
        let description = match self.description {
            Some(text) => format!("{text}\n\n{who}"),
            None => who,
        };
        let mut parameters: Vec<Parameter> = self
            .path_parameters()
            .into_iter()
            .map(|name| path_parameter(name, schemas))
            .collect();
        parameters.extend(self.parameters.iter().cloned());
        let mut builder = OperationBuilder::new()
            .tag(self.tag)
            .summary(Some(self.summary))
            .description(Some(description))
            .operation_id(Some(operation_id(self.method, self.path)))
            .securities(Some(security));
        if !parameters.is_empty() {
            builder = builder.parameters(Some(parameters));
        }
        if let Some(body) = &self.body {
            builder = builder.request_body(Some(body.clone()));
        }
        for (status, response) in &self.responses {
            builder = builder.response(status.to_string(), response.clone());
        }
        builder = builder.response(
            "default",
            RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)),
        );
        let mut operation = builder.build();
        if !named.is_empty() {
            let mut extensions = utoipa::openapi::extensions::Extensions::default();
            extensions.insert(
                "x-workroom-roles".to_string(),
                serde_json::Value::from(named.clone()),
            );
            operation.extensions = Some(extensions);
        }
        operation
    }
}

/// The `{name}` segments of a path template, in order.
pub(super) fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn path_parameter(name: &str, schemas: &mut Schemas) -> Parameter {
    let (description, schema): (&str, RefOr<Schema>) = match name {
        "room" => (
            "The workroom id.",
            component::<workroom_protocol::RoomId>(schemas),
        ),
        "bid_id" => ("The marketplace's id of the accepted bid.", string()),
        "account" => ("A team account id.", string()),
        "user" => ("A user id.", string()),
        "file" => ("A file id.", string()),
        "grant" => ("An access grant id.", string()),
        "report" => ("A report id.", string()),
        "shot" => ("A screenshot id.", string()),
        "jti" => ("The bot token's `jti` claim.", string()),
        "hold" => ("A legal hold id.", string()),
        "export" => ("A legal export id.", string()),
        _ => ("An id.", string()),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// `{"field": "…", …}`: every field a required string, nothing else.
fn string_object(fields: &[(&str, &str)]) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, description) in fields {
        object = object
            .property(
                *name,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(*description)),
            )
            .required(*name);
    }
    object.into()
}

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// `GET /v1/rooms/{room}/members` → `get_v1_rooms_room_members`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(['/', '{', '}', '-', '.']) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    if path == "/" {
        id.push_str("_root");
    }
    id
}

/// The whole document.
pub(super) fn openapi() -> OpenApi {
    let mut schemas: Schemas = Vec::new();
    component::<ErrorBody>(&mut schemas);
    component::<ErrorCode>(&mut schemas);
    let mut paths: BTreeMap<&str, PathItem> = BTreeMap::new();
    let mut tags: Vec<&str> = Vec::new();
    for doc in describe() {
        let operation = doc.operation(&mut schemas);
        schemas.extend(doc.schemas.iter().cloned());
        if !tags.contains(&doc.tag) {
            tags.push(doc.tag);
        }
        let method = match doc.method {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "DELETE" => HttpMethod::Delete,
            other => panic!("no OpenAPI method for {other}"),
        };
        match paths.get_mut(doc.path) {
            Some(item) => item.merge_operations(PathItem::new(method, operation)),
            None => {
                paths.insert(doc.path, PathItem::new(method, operation));
            }
        }
    }
    let mut path_list = Paths::new();
    for (path, item) in paths {
        path_list.paths.insert(path.to_string(), item);
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "`Authorization: Bearer <jwt>`: a token from the marketplace (or \
                     `workroom token` in development) with the claims of docs/protocol.md. \
                     A missing, expired, wrongly signed or revoked token is `unauthorized`.",
                ))
                .build(),
        ),
    );
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    let components: Components = components
        .response(ERROR_RESPONSE, error_response())
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Workroom")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Workroom's HTTP API, generated from the server's route table and the \
                     protocol crate's types. The WebSocket frames of `GET /v1/ws` are \
                     described by `GET /v1/schemas/frames.json` (JSON Schema 2020-12); \
                     docs/protocol.md is the prose.",
                ))
                .build(),
        )
        .paths(path_list)
        .components(Some(components))
        .tags(Some(tags.into_iter().map(Tag::new)))
        .build()
}

/// Every non-2xx answer: `{"code","message"}`, the status following the code.
fn error_response() -> Response {
    let statuses: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|code| format!("`{}` {}", code.as_str(), code.http_status()))
        .collect();
    let description = format!(
        "An error: `{{\"code\",\"message\"}}` with one of the stable codes; the HTTP status \
         follows the code ({}). `rate_limited` carries `Retry-After` (seconds); \
         `unauthorized` carries `WWW-Authenticate: Bearer`.",
        statuses.join(", ")
    );
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            json_content(RefOr::Ref(Ref::from_schema_name(ErrorBody::name()))),
        )
        .build()
}

/// Every route. A route of [`crate::router::ROUTES`] missing here fails
/// `api_docs::tests::every_route_is_described`.
pub(super) fn describe() -> Vec<RouteDoc> {
    use Act::*;
    vec![
        // Operations.
        get("/healthz", "operations", "Liveness")
            .acts(&[Probe])
            .bytes(200, "text/plain", "`ok`: the process is up."),
        get("/readyz", "operations", "Readiness")
            .acts(&[Probe])
            .json::<crate::health::Readiness>(200, "Ready: not draining, the database answers and accepts writes.")
            .json::<crate::health::Readiness>(503, "Not ready: draining, or a dependency is down."),
        get("/metrics", "operations", "Prometheus metrics")
            .describe(
                "On the public listener unless `metrics_listen` is set: then it is served only \
                 on that private plain-HTTP listener, and here it answers `404 not_found` like \
                 an unknown route.",
            )
            .acts(&[Probe])
            .bytes(200, "text/plain; version=0.0.4", "The Prometheus text format."),
        // The web client.
        get("/", "web", "The web client's page")
            .acts(&[ServePage])
            .bytes(200, "text/html", "The page (it signs in and calls this API)."),
        get("/app/{file}", "web", "A file of the web client")
            .acts(&[ServePage])
            .bytes(200, "*/*", "A script, style sheet or image of the page."),
        // This description.
        get(super::OPENAPI_ROUTE, "api", "This OpenAPI 3.1 document")
            .acts(&[ReadApiDescription])
            .json_document("The OpenAPI 3.1 document of every HTTP route (docs/openapi.json)."),
        get(super::FRAMES_ROUTE, "api", "The WebSocket frames' JSON Schema")
            .acts(&[ReadApiDescription])
            .json_document(
                "A JSON Schema (2020-12) whose `$defs` hold `ClientFrame` and `ServerFrame` \
                 (docs/schemas/frames.json).",
            ),
        // Development sign-in (the web client's one-time links).
        post("/v1/dev/sign-in", "web", "Trade a development sign-in code for its token")
            .acts(&[RedeemSignIn])
            .describe(
                "The web client's half of `workroom token --sign-in-link`: the one-time code \
                 is the credential, so no token is sent.",
            )
            .inline_body(&[("code", "The one-time code from the link's fragment.")])
            .inline_json(200, "The token the code stood for.", &[("token", "The JWT.")]),
        // Real time.
        get("/v1/ws", "websocket", "Open the WebSocket session")
            .acts(&[Connect, OpenSession])
            .describe(
                "A WebSocket upgrade (`wss://`), not a JSON route. Authenticate with \
                 `Authorization: Bearer <jwt>` on the upgrade or, for browsers, with a first \
                 frame `{\"type\":\"auth\",\"token\":\"<jwt>\"}`; a token in the URL is refused. \
                 A browser's `Origin` must be the server's own or a configured one. After the \
                 upgrade every message is a JSON text frame: the client sends \
                 `ClientFrame`s and receives `ServerFrame`s, both described by \
                 `GET /v1/schemas/frames.json`; the first server frame is `hello`.",
            )
            .header("Upgrade", "`websocket`.", true)
            .header("Sec-WebSocket-Version", "`13`.", true)
            .header("Sec-WebSocket-Key", "The handshake nonce (RFC 6455).", true)
            .empty(
                101,
                "Switching Protocols: the WebSocket session (frames: \
                 `/v1/schemas/frames.json`).",
            ),
        // Marketplace provisioning.
        post("/v1/marketplace/bids/{bid_id}/accept", "marketplace", "A bid was accepted: open its workroom")
            .acts(&[Provision])
            .body::<BidAccepted>()
            .json::<RoomCreated>(201, "The workroom was opened (and the project's shared one, with two or more accepted bids).")
            .json::<RoomCreated>(200, "Accepted before: the same rooms."),
        post("/v1/marketplace/bids/{bid_id}/end", "marketplace", "A contract ended: close its workroom")
            .acts(&[Provision])
            .json::<ContractEnded>(200, "Closed: read-only, readable for the retention period."),
        put("/v1/marketplace/accounts/{account}/members/{user}", "marketplace", "Set a user's role in a team account")
            .acts(&[Provision])
            .body::<AccountMemberPut>()
            .empty(204, "Set."),
        delete("/v1/marketplace/accounts/{account}/members/{user}", "marketplace", "Remove a user from a team account")
            .acts(&[Provision])
            .empty(204, "Removed."),
        // Rooms.
        get("/v1/rooms", "rooms", "The caller's workrooms")
            .acts(&[ListRooms])
            .json::<RoomList>(200, "The rooms, as in `hello`."),
        get("/v1/rooms/{room}/members", "rooms", "A workroom's members")
            .acts(&[ReadRoom])
            .json::<MemberList>(200, "The members."),
        get("/v1/rooms/{room}/messages", "rooms", "A page of history")
            .acts(&[ReadRoom])
            .query::<rooms::HistoryQuery>()
            .json::<rooms::HistoryPage>(200, "The newest `limit` messages with `seq < before_seq`, oldest first: the `history` frame over HTTPS."),
        get("/v1/rooms/{room}/grants", "rooms", "The moderator grants on a workroom that have ended")
            .acts(&[ListEndedGrants])
            .json::<EndedGrantList>(200, "Ended grants (transparency): no reason, no moderator."),
        // Files.
        post("/v1/rooms/{room}/files", "files", "Upload a file")
            .acts(&[WriteRoom])
            .query::<files::UploadQuery>()
            .bytes_body("*/*", "The file, streamed; its `Content-Type` is recorded as declared, the type is read from the bytes. Limited to `files.max_file_bytes` (`too_large`).")
            .json::<FileInfo>(201, "Stored; attach it to a message with `send` `attachments`."),
        get("/v1/rooms/{room}/files/{file}", "files", "A file's metadata")
            .acts(&[ReadRoom])
            .json::<FileInfo>(200, "The file."),
        get("/v1/rooms/{room}/files/{file}/content", "files", "Download a file")
            .acts(&[ReadFile])
            .download(),
        post("/v1/rooms/{room}/files/{file}/link", "files", "A short-lived download link")
            .acts(&[ReadFile])
            .json::<FileLink>(200, "A signed link, usable without a token until `expires_at`."),
        get("/v1/files/{file}/content", "files", "Download through a signed link")
            .acts(&[ReadFileByLink])
            .signed_link()
            .describe("Checked again, as of now, for the user the link was issued to.")
            .query::<files::LinkQuery>()
            .download(),
        // Reports.
        post("/v1/rooms/{room}/reports", "reports", "Report messages to trust and safety")
            .acts(&[FileReport])
            .body::<NewReport>()
            .json::<ReportStatus>(201, "Filed."),
        get("/v1/reports", "reports", "The caller's own reports")
            .acts(&[ListOwnReports])
            .json::<ReportStatusList>(200, "The reports and their state."),
        get("/v1/moderation/reports", "reports", "Reports, for moderators")
            .acts(&[ListReports])
            .query::<reports::ReportListQuery>()
            .uses::<ReportState>()
            .json::<ReportList>(200, "The reports (no content)."),
        get("/v1/moderation/reports/{report}", "reports", "A report's case")
            .acts(&[ReadReport])
            .json::<ReportCase>(200, "The case with exactly the reported messages (audited)."),
        get("/v1/moderation/reports/{report}/files/{file}/content", "reports", "A file of a reported message")
            .acts(&[ReadReportedFile])
            .download(),
        post("/v1/moderation/reports/{report}/close", "reports", "Close a report")
            .acts(&[Act::CloseReport])
            .body::<CloseReportBody>()
            .json::<ReportStatus>(200, "Closed with its outcome."),
        // Contacts.
        put("/v1/me/contact", "contacts", "Keep one's own contact details")
            .acts(&[KeepOwnContact])
            .body::<ContactDetails>()
            .empty(204, "Kept."),
        get("/v1/me/contact", "contacts", "One's own contact details")
            .acts(&[KeepOwnContact])
            .json::<ContactDetails>(200, "The details."),
        post("/v1/rooms/{room}/contacts/release", "contacts", "Release contact details with the other party (both ways)")
            .acts(&[ReleaseContacts])
            .body::<ReleaseRequest>()
            .json::<Released>(200, "Released both ways, or already exchanged (`newly: false`)."),
        get("/v1/rooms/{room}/contacts", "contacts", "Contact details released to the caller in a workroom")
            .acts(&[ReadReleasedContacts])
            .json::<ReleasedContacts>(200, "The released details."),
        // Tracker.
        put("/v1/me/work-view", "tracker", "Turn one's Work View on or off")
            .acts(&[KeepWorkView])
            .body::<WorkView>()
            .json::<WorkView>(200, "The Work View now."),
        get("/v1/me/work-view", "tracker", "One's Work View")
            .acts(&[KeepWorkView])
            .json::<WorkView>(200, "The Work View."),
        delete("/v1/me/bots/{jti}", "tracker", "Revoke a bot token that acts for the caller")
            .acts(&[RevokeOwnBot])
            .empty(204, "Revoked."),
        post("/v1/tracker/screenshots", "tracker", "The Tracker posts a screenshot")
            .acts(&[PostScreenshot])
            .query::<screenshots::PostQuery>()
            .header(
                "Workroom-Memo",
                "The memo, percent-encoded UTF-8 (kept out of the URL).",
                false,
            )
            .bytes_body("image/*", "The image, streamed; limited to `tracker.max_screenshot_bytes` (`too_large`).")
            .json::<ScreenshotView>(201, "Posted (shared with the client by default)."),
        // Screenshots.
        get("/v1/rooms/{room}/screenshots", "screenshots", "A workroom's screenshots")
            .acts(&[ReadScreenshots])
            .query::<screenshots::PageQuery>()
            .json::<ScreenshotList>(200, "One page, oldest first (the client side sees shared ones only)."),
        get("/v1/rooms/{room}/screenshots/{shot}/content", "screenshots", "Download a screenshot")
            .acts(&[ReadScreenshots])
            .download(),
        post("/v1/rooms/{room}/screenshots/{shot}/link", "screenshots", "A short-lived link to a screenshot")
            .acts(&[ReadScreenshots])
            .json::<FileLink>(200, "A signed link, usable without a token until `expires_at` (and while shared)."),
        post("/v1/rooms/{room}/screenshots/{shot}/unshare", "screenshots", "Un-share one's screenshot")
            .acts(&[ShareScreenshot])
            .json::<ScreenshotView>(200, "Un-shared: the client side no longer sees it."),
        post("/v1/rooms/{room}/screenshots/{shot}/share", "screenshots", "Share one's screenshot again")
            .acts(&[ShareScreenshot])
            .json::<ScreenshotView>(200, "Shared."),
        get("/v1/marketplace/rooms/{room}/screenshots", "screenshots", "Payment-guarantee review of a workroom's screenshots")
            .acts(&[ReviewScreenshots])
            .query::<screenshots::PageQuery>()
            .json::<ScreenshotList>(200, "One page, shared or not (audited)."),
        get("/v1/marketplace/rooms/{room}/screenshots/{shot}/content", "screenshots", "Payment-guarantee review: download a screenshot")
            .acts(&[ReviewScreenshots])
            .download(),
        // Moderation.
        post("/v1/moderation/grants", "moderation", "Open an access grant")
            .acts(&[Act::OpenGrant])
            .body::<OpenGrantBody>()
            .json::<GrantView>(201, "Opened: active, or pending a second moderator's approval."),
        get("/v1/moderation/grants", "moderation", "Access grants")
            .acts(&[ListGrants])
            .query::<moderation::GrantListQuery>()
            .uses::<GrantState>()
            .json::<GrantList>(200, "The grants."),
        get("/v1/moderation/grants/{grant}", "moderation", "One access grant")
            .acts(&[ListGrants])
            .json::<GrantView>(200, "The grant."),
        post("/v1/moderation/grants/{grant}/approve", "moderation", "Approve a pending grant (four-eyes)")
            .acts(&[ApproveGrant])
            .json::<GrantView>(200, "Approved: active."),
        post("/v1/moderation/grants/{grant}/revoke", "moderation", "Revoke a grant")
            .acts(&[RevokeGrant])
            .json::<GrantView>(200, "Revoked."),
        get("/v1/moderation/grants/{grant}/messages", "moderation", "A page of history under a grant")
            .acts(&[ReadHistoryUnderGrant])
            .query::<moderation::HistoryQuery>()
            .json::<ModeratedHistory>(200, "The page, with every message's earlier versions (audited)."),
        get("/v1/moderation/grants/{grant}/files/{file}/content", "moderation", "Download a file under a grant")
            .acts(&[ReadFileUnderGrant])
            .download(),
        post("/v1/moderation/grants/{grant}/connections", "moderation", "Which members connected from where (pseudonymised)")
            .acts(&[ReadConnectionsUnderGrant])
            .describe("The query is in the body, not the URL: URLs end up in proxy logs.")
            .body::<moderation::ConnectionQuery>()
            .json::<ConnectionList>(200, "The connections (audited)."),
        post("/v1/moderation/grants/{grant}/notices", "moderation", "Post a system notice under a grant")
            .acts(&[PostNotice])
            .body::<NewNotice>()
            .json::<NoticePosted>(201, "Posted into the timeline."),
        // Audit.
        get("/v1/audit", "audit", "The audit trail")
            .acts(&[ReadAudit])
            .query::<AuditQuery>()
            .json::<AuditPage>(200, "One page of entries, by seq."),
        post("/v1/audit/verify", "audit", "Verify the whole audit trail")
            .acts(&[ReadAudit])
            .describe("Checks every entry's hash and link and every signed checkpoint, as `workroom audit verify` does; one verification at a time per node (`429 rate_limited` meanwhile). A broken trail is a result (`intact: false` with the problem), not an error.")
            .json::<AuditVerification>(200, "The result."),
        // Data lifecycle.
        get("/v1/marketplace/rooms/{room}/retention", "lifecycle", "A workroom's retention")
            .acts(&[ReadRetention])
            .json::<RetentionView>(200, "The retention and purge date."),
        put("/v1/marketplace/rooms/{room}/retention", "lifecycle", "Set a workroom's retention")
            .acts(&[ChangeRetention])
            .body::<RetentionPut>()
            .json::<RetentionView>(200, "The retention now."),
        get("/v1/marketplace/bans/{user}", "lifecycle", "Whether a user is banned")
            .acts(&[CheckBan])
            .json::<BanStatus>(200, "The ban record, if any."),
        post("/v1/marketplace/bans/check", "lifecycle", "Whether an identity is banned")
            .acts(&[CheckBan])
            .describe("The identity is in the body, not the URL.")
            .body::<BanQuery>()
            .json::<BanStatus>(200, "The ban record, if any."),
        post("/v1/legal/holds", "lifecycle", "Place a legal hold")
            .acts(&[ManageHolds])
            .body::<HoldRequest>()
            .json::<HoldView>(201, "Placed: purge and erasure of its target wait until it lifts."),
        get("/v1/legal/holds", "lifecycle", "Legal holds")
            .acts(&[ListHolds])
            .query::<lifecycle::HoldFilter>()
            .json::<HoldList>(200, "The holds, newest first."),
        post("/v1/legal/holds/{hold}/lift", "lifecycle", "Lift a legal hold")
            .acts(&[ManageHolds])
            .json::<HoldView>(200, "Lifted: what it deferred runs now."),
        get("/v1/admin/holds", "lifecycle", "Legal holds, for admins")
            .acts(&[ListHolds])
            .query::<lifecycle::HoldFilter>()
            .json::<HoldList>(200, "The holds, newest first."),
        get("/v1/admin/erasures", "lifecycle", "Erasures a legal hold deferred")
            .acts(&[ListErasures])
            .json::<ErasureList>(200, "The deferred erasures."),
        post("/v1/marketplace/rooms/{room}/purge", "lifecycle", "Purge a closed workroom now")
            .acts(&[ChangeRetention])
            .json::<PurgeResult>(200, "Purged (now, or before).")
            .json::<PurgeResult>(202, "Deferred: a legal hold covers it."),
        post("/v1/marketplace/users/{user}/revoke-tokens", "lifecycle", "Refuse a user's earlier tokens")
            .acts(&[Act::RevokeTokens])
            .body::<RevokeTokensBody>()
            .json::<TokensRevoked>(200, "Tokens issued before `issued_before` are refused."),
        post("/v1/marketplace/accounts/{account}/terminate", "lifecycle", "Terminate a team account")
            .acts(&[Terminate])
            .json::<Terminated>(200, "Terminated (its workrooms closed)."),
        post("/v1/marketplace/users/{user}/terminate", "lifecycle", "Terminate a user's membership")
            .acts(&[Terminate])
            .body::<TerminateUser>()
            .json::<Terminated>(200, "Terminated: personal data erased (or deferred by a hold)."),
        post("/v1/me/logout", "lifecycle", "Revoke the caller's own token")
            .acts(&[Logout])
            .empty(204, "The token's session id is revoked."),
        // Legal disclosure.
        post("/v1/legal/exports", "legal", "Ask for a disclosure export")
            .acts(&[ExportLegal])
            .body::<ExportRequest>()
            .json::<ExportView>(202, "Accepted: the bundle is built in the background."),
        get("/v1/legal/exports", "legal", "Disclosure exports")
            .acts(&[ListLegalExports])
            .json::<ExportList>(200, "The exports and their state."),
        get("/v1/legal/exports/{export}", "legal", "One disclosure export")
            .acts(&[ListLegalExports])
            .json::<ExportView>(200, "The export and its state."),
        get("/v1/legal/exports/{export}/content", "legal", "Download a disclosure bundle")
            .acts(&[DownloadLegalBundle])
            .bytes(200, "application/x-tar", "The signed bundle (docs/compliance.md), streamed (audited)."),
        get("/v1/legal/public-key", "legal", "The key bundles are signed with")
            .acts(&[ReadLegalPublicKey])
            .json::<SigningKeyView>(200, "The Ed25519 public key."),
        // Analytics.
        get("/v1/analytics/daily", "analytics", "Anonymous daily counts")
            .acts(&[ReadAnalytics])
            .query::<AnalyticsQuery>()
            .json::<DailyAnalytics>(200, "One row per whole past UTC day; small counts suppressed."),
    ]
}
