//! Geometry on E7 coordinates (degrees x 10^7), written once for the server, the client and the
//! feature store: validated coordinates, normalised rectangles and the great-circle distance.

use std::fmt;

use crate::proto::{self, Point, Rectangle};

/// E7 units in one degree.
pub(crate) const E7_PER_DEGREE: f64 = 1e7;
/// The largest latitude, +90°, in E7 units.
pub const MAX_LATITUDE_E7: i32 = 900_000_000;
/// The largest longitude, +180°, in E7 units.
pub const MAX_LONGITUDE_E7: i32 = 1_800_000_000;
/// The mean radius of the Earth used for distances, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// A position whose latitude and longitude are known to be in range (E7 units).
///
/// Obtained from a [`Point`] with [`Coordinates::from_point`], which is where untrusted input is
/// checked; everything past that point can rely on the ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinates {
    latitude: i32,
    longitude: i32,
}

impl Coordinates {
    /// Checks the ranges: latitude within ±90°, longitude within ±180°, limits included.
    pub fn new(latitude: i32, longitude: i32) -> Result<Self, CoordinateError> {
        if !(-MAX_LATITUDE_E7..=MAX_LATITUDE_E7).contains(&latitude) {
            return Err(CoordinateError::Latitude(latitude));
        }
        if !(-MAX_LONGITUDE_E7..=MAX_LONGITUDE_E7).contains(&longitude) {
            return Err(CoordinateError::Longitude(longitude));
        }
        Ok(Coordinates {
            latitude,
            longitude,
        })
    }

    /// The coordinates of a point received over the wire, checked.
    pub fn from_point(point: &Point) -> Result<Self, CoordinateError> {
        Coordinates::new(point.latitude, point.longitude)
    }

    /// The latitude in E7 units, within ±90°.
    pub fn latitude(self) -> i32 {
        self.latitude
    }

    /// The longitude in E7 units, within ±180°.
    pub fn longitude(self) -> i32 {
        self.longitude
    }

    /// The latitude in decimal degrees.
    pub fn latitude_degrees(self) -> f64 {
        f64::from(self.latitude) / E7_PER_DEGREE
    }

    /// The longitude in decimal degrees.
    pub fn longitude_degrees(self) -> f64 {
        f64::from(self.longitude) / E7_PER_DEGREE
    }

    /// The same position as a wire message.
    pub fn to_point(self) -> Point {
        proto::point(self.latitude, self.longitude)
    }
}

impl fmt::Display for Coordinates {
    /// Decimal degrees, as a person reads them: `40.9146138, -74.6188906`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Degrees(&self.to_point()).fmt(f)
    }
}

/// Any point, valid or not, shown in decimal degrees: `40.9146138, -74.6188906`.
pub struct Degrees<'a>(pub &'a Point);

impl fmt::Display for Degrees<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let degrees = |e7: i32| f64::from(e7) / E7_PER_DEGREE;
        write!(
            f,
            "{}, {}",
            degrees(self.0.latitude),
            degrees(self.0.longitude)
        )
    }
}

/// Decimal degrees in E7 units, rounded to the nearest; `None` for a number that is not finite or
/// does not fit in the wire's `int32` (the range check is [`Coordinates::new`]'s business).
pub fn degrees_to_e7(degrees: f64) -> Option<i32> {
    let e7 = (degrees * E7_PER_DEGREE).round();
    (e7.is_finite() && e7 >= f64::from(i32::MIN) && e7 <= f64::from(i32::MAX)).then_some(e7 as i32)
}

/// Why a latitude or longitude was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinateError {
    /// This latitude (E7) is outside ±90°.
    Latitude(i32),
    /// This longitude (E7) is outside ±180°.
    Longitude(i32),
}

impl fmt::Display for CoordinateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CoordinateError::Latitude(value) => write!(
                f,
                "latitude {value} is outside ±90° (E7 units: -{MAX_LATITUDE_E7} to {MAX_LATITUDE_E7})"
            ),
            CoordinateError::Longitude(value) => write!(
                f,
                "longitude {value} is outside ±180° (E7 units: -{MAX_LONGITUDE_E7} to {MAX_LONGITUDE_E7})"
            ),
        }
    }
}

impl std::error::Error for CoordinateError {}

/// The area between two opposite corners, edges included, with the corners put in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    south_west: Coordinates,
    north_east: Coordinates,
}

impl Bounds {
    /// The rectangle spanned by any two opposite corners.
    pub fn from_corners(a: Coordinates, b: Coordinates) -> Self {
        Bounds {
            south_west: Coordinates {
                latitude: a.latitude.min(b.latitude),
                longitude: a.longitude.min(b.longitude),
            },
            north_east: Coordinates {
                latitude: a.latitude.max(b.latitude),
                longitude: a.longitude.max(b.longitude),
            },
        }
    }

    /// The smallest corner (lowest latitude and longitude).
    pub fn south_west(&self) -> Coordinates {
        self.south_west
    }

    /// The largest corner (highest latitude and longitude).
    pub fn north_east(&self) -> Coordinates {
        self.north_east
    }

    /// Whether `c` is inside, edges included.
    pub fn contains(&self, c: Coordinates) -> bool {
        (self.south_west.latitude..=self.north_east.latitude).contains(&c.latitude)
            && (self.south_west.longitude..=self.north_east.longitude).contains(&c.longitude)
    }

    /// Whether every point of `other` is inside this rectangle.
    pub fn covers(&self, other: &Bounds) -> bool {
        self.contains(other.south_west) && self.contains(other.north_east)
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Bounds) -> Bounds {
        Bounds::from_corners(
            Coordinates {
                latitude: self.south_west.latitude.min(other.south_west.latitude),
                longitude: self.south_west.longitude.min(other.south_west.longitude),
            },
            Coordinates {
                latitude: self.north_east.latitude.max(other.north_east.latitude),
                longitude: self.north_east.longitude.max(other.north_east.longitude),
            },
        )
    }

    /// The same area as a wire message, `lo` the south-west corner and `hi` the north-east.
    pub fn to_rectangle(self) -> Rectangle {
        proto::rectangle(self.south_west.to_point(), self.north_east.to_point())
    }
}

/// The great-circle distance between two positions in metres, by the haversine formula on a
/// sphere of radius [`EARTH_RADIUS_M`].
pub fn distance_m(from: Coordinates, to: Coordinates) -> f64 {
    let lat_from = from.latitude_degrees().to_radians();
    let lat_to = to.latitude_degrees().to_radians();
    let delta_lat = (to.latitude_degrees() - from.latitude_degrees()).to_radians();
    let delta_lon = (to.longitude_degrees() - from.longitude_degrees()).to_radians();

    let a = (delta_lat / 2.0).sin().powi(2)
        + lat_from.cos() * lat_to.cos() * (delta_lon / 2.0).sin().powi(2);
    let central_angle = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    EARTH_RADIUS_M * central_angle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(latitude: i32, longitude: i32) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(Coordinates::new(MAX_LATITUDE_E7, MAX_LONGITUDE_E7).is_ok());
        assert!(Coordinates::new(-MAX_LATITUDE_E7, -MAX_LONGITUDE_E7).is_ok());
        assert_eq!(
            Coordinates::new(MAX_LATITUDE_E7 + 1, 0),
            Err(CoordinateError::Latitude(MAX_LATITUDE_E7 + 1))
        );
        assert_eq!(
            Coordinates::new(0, -MAX_LONGITUDE_E7 - 1),
            Err(CoordinateError::Longitude(-MAX_LONGITUDE_E7 - 1))
        );
    }

    #[test]
    fn degrees_round_to_the_nearest_e7_unit() {
        assert_eq!(degrees_to_e7(40.9146138), Some(409_146_138));
        assert_eq!(degrees_to_e7(-74.61889064), Some(-746_188_906));
        assert_eq!(degrees_to_e7(1e12), None);
        assert_eq!(degrees_to_e7(f64::NAN), None);
        assert_eq!(
            c(409_146_138, -746_188_906).to_string(),
            "40.9146138, -74.6188906"
        );
    }

    #[test]
    fn swapped_corners_give_the_same_bounds() {
        let a = c(10, -20);
        let b = c(-30, 40);
        let bounds = Bounds::from_corners(a, b);
        assert_eq!(bounds, Bounds::from_corners(b, a));
        assert_eq!(bounds.south_west(), c(-30, -20));
        assert_eq!(bounds.north_east(), c(10, 40));
        assert!(bounds.contains(c(10, 40)), "edges are inside");
        assert!(bounds.contains(c(-30, -20)));
        assert!(!bounds.contains(c(11, 0)));
        assert!(!bounds.contains(c(0, 41)));
    }

    #[test]
    fn distance_of_the_reference_route_truncates_to_47_metres() {
        let route = [c(1000, 1000), c(2000, 2000), c(3000, 3000), c(4000, 4000)];
        let total: f64 = route.windows(2).map(|w| distance_m(w[0], w[1])).sum();
        assert_eq!(total as i32, 47);
    }

    #[test]
    fn distance_is_symmetric_and_zero_at_a_point() {
        let nyc = c(407_127_753, -740_059_728);
        let london = c(515_072_178, -1_275_590);
        assert_eq!(distance_m(nyc, nyc), 0.0);
        assert_eq!(distance_m(nyc, london), distance_m(london, nyc));
        // About 5,570 km on a sphere of radius 6,371 km.
        assert!((5_560_000.0..5_580_000.0).contains(&distance_m(nyc, london)));
    }
}
