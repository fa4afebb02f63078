//! The code generated from `proto/route_guide.proto` by `build.rs`: the messages (`Point`,
//! `Rectangle`, `Feature`, `RouteNote`, `RouteSummary`) and the grpcio service glue (the
//! `RouteGuide` trait, `create_route_guide` and the raw `RouteGuideClient` stub); likewise for
//! server reflection, for the standard health service and for the `google.rpc` messages of error
//! details. Nothing here is written by hand but the re-exports and the small constructors that
//! keep call sites short. Lints are off for the generated modules: their style is the generators'.
//!
//! The messages are protobuf 3's: plain structs with public fields. A message-typed field is a
//! [`MessageField`], which reads as the type's default when the sender left it out (as
//! `&note.location` does) and says whether it was sent (`note.location.as_ref()`).

use protobuf::MessageField;

#[allow(warnings, clippy::all, clippy::pedantic)]
pub mod route_guide {
    include!(concat!(env!("OUT_DIR"), "/route_guide.rs"));
}

#[allow(warnings, clippy::all, clippy::pedantic)]
pub mod route_guide_grpc {
    include!(concat!(env!("OUT_DIR"), "/route_guide_grpc.rs"));
}

/// Server reflection's messages (`grpc.reflection.v1alpha`), for clients that ask this server
/// what it serves.
#[allow(warnings, clippy::all, clippy::pedantic)]
pub mod reflection {
    include!(concat!(env!("OUT_DIR"), "/reflection.rs"));
}

#[allow(warnings, clippy::all, clippy::pedantic)]
pub(crate) mod reflection_grpc {
    include!(concat!(env!("OUT_DIR"), "/reflection_grpc.rs"));
}

/// The standard health-checking protocol (`grpc.health.v1`): its messages, and a client for
/// probes that ask this server whether it serves.
#[allow(warnings, clippy::all, clippy::pedantic)]
pub mod health {
    include!(concat!(env!("OUT_DIR"), "/health.rs"));
    pub use super::health_grpc::HealthClient;
}

#[allow(warnings, clippy::all, clippy::pedantic)]
pub(crate) mod health_grpc {
    include!(concat!(env!("OUT_DIR"), "/health_grpc.rs"));
}

/// `google.rpc.Status`, which carries a failed call's details (see `status.rs`).
#[allow(warnings, clippy::all, clippy::pedantic)]
pub(crate) mod rpc_status {
    include!(concat!(env!("OUT_DIR"), "/status.rs"));
}

/// `google.rpc.ErrorInfo`, the detail that names why a call failed (see `status.rs`).
#[allow(warnings, clippy::all, clippy::pedantic)]
pub(crate) mod rpc_error_details {
    include!(concat!(env!("OUT_DIR"), "/error_details.rs"));
}

pub use route_guide::{Feature, Point, Rectangle, RouteNote, RouteSummary};
pub use route_guide_grpc::{RouteGuide, create_route_guide};

/// A point from E7 coordinates (degrees x 10^7).
pub fn point(latitude: i32, longitude: i32) -> Point {
    Point {
        latitude,
        longitude,
        ..Point::default()
    }
}

/// A rectangle from two opposite corners.
pub fn rectangle(lo: Point, hi: Point) -> Rectangle {
    Rectangle {
        lo: MessageField::some(lo),
        hi: MessageField::some(hi),
        ..Rectangle::default()
    }
}

/// A feature called `name` at `location`.
pub fn feature(name: impl Into<String>, location: Point) -> Feature {
    Feature {
        name: name.into(),
        location: MessageField::some(location),
        ..Feature::default()
    }
}

/// A chat note saying `message` at `location`.
pub fn route_note(location: Point, message: impl Into<String>) -> RouteNote {
    RouteNote {
        location: MessageField::some(location),
        message: message.into(),
        ..RouteNote::default()
    }
}
