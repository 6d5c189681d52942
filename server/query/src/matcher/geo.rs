//! The geo tests, computed as the SQL computes them (same formulas, same order of operations),
//! so points near a boundary fall on the same side in memory and in the database.

use serde_json::Value;

use crate::value::GeoPoint;

/// Great-circle distance in radians (haversine), as `Compiler::distance` writes it.
pub(super) fn distance(p: GeoPoint, center: GeoPoint) -> f64 {
    let lat = p.latitude.to_radians();
    let a = ((lat - center.latitude.to_radians()) / 2.0).sin().powi(2)
        + lat.cos()
            * center.latitude.to_radians().cos()
            * ((p.longitude.to_radians() - center.longitude.to_radians()) / 2.0)
                .sin()
                .powi(2);
    2.0 * a.max(0.0).sqrt().min(1.0).asin()
}

fn between(x: f64, a: f64, b: f64) -> bool {
    a.min(b) <= x && x <= a.max(b)
}

/// On an edge (collinear within 1e-12 and within its bounds) of the segment a→b, each given as
/// (x = longitude, y = latitude).
fn on_edge((x, y): (f64, f64), (xa, ya): (f64, f64), (xb, yb): (f64, f64)) -> bool {
    ((x - xa) * (yb - ya) - (y - ya) * (xb - xa)).abs() <= 1e-12
        && between(x, xa, xb)
        && between(y, ya, yb)
}

/// `$geoWithin.$polygon`: on an edge, or inside by ray casting towards +longitude.
pub(super) fn point_in_polygon(p: GeoPoint, points: &[GeoPoint]) -> bool {
    let (x, y) = (p.longitude, p.latitude);
    let edges = || {
        points.iter().enumerate().map(|(i, a)| {
            let b = points[(i + 1) % points.len()];
            ((a.longitude, a.latitude), (b.longitude, b.latitude))
        })
    };
    if edges().any(|(a, b)| on_edge((x, y), a, b)) {
        return true;
    }
    let crossings = edges()
        .filter(|((xa, ya), (xb, yb))| {
            ya != yb && {
                let slope = (xb - xa) / (yb - ya);
                y >= ya.min(*yb) && y < ya.max(*yb) && x < xa + (y - ya) * slope
            }
        })
        .count();
    crossings % 2 == 1
}

/// `$geoIntersects.$point` against a stored Polygon's ring (`[[lat, lng], …]`, closed): on an
/// edge, or inside by ray casting. Vertices that are not a pair of numbers take no part, as
/// their NULLs take none in the SQL.
pub(super) fn polygon_contains(ring: &[Value], p: GeoPoint) -> bool {
    let vertex = |v: &Value| -> Option<(f64, f64)> {
        // (x = longitude, y = latitude)
        Some((v.get(1)?.as_f64()?, v.get(0)?.as_f64()?))
    };
    let (px, py) = (p.longitude, p.latitude);
    let edges = || {
        ring.iter().enumerate().filter_map(|(i, a)| {
            let b = &ring[(i + 1) % ring.len()];
            Some((vertex(a)?, vertex(b)?))
        })
    };
    if edges().any(|(a, b)| on_edge((px, py), a, b)) {
        return true;
    }
    let crossings = edges()
        .filter(|((xa, ya), (xb, yb))| {
            ya != yb
                && py >= ya.min(*yb)
                && py < ya.max(*yb)
                && px < xa + (py - ya) * (xb - xa) / (yb - ya)
        })
        .count();
    crossings % 2 == 1
}
