import ControlPlane
import CoreMetrics
import Foundation
import Prometheus
import StoreCore
import Synchronization

/// The Prometheus side of the gateway: swift-metrics instruments backed by a
/// registry of this gateway's own (not the global `MetricsSystem`, which can be
/// bootstrapped once per process), rendered at `/metrics`.
///
/// Request counts and latencies are recorded per request. Everything else comes
/// from the control plane's ``ControlPlane/MetricsSnapshot``, the one GetMetrics
/// answers from, read on each scrape (stores by status, rate-limit refusals,
/// reconcile passes and corrections, and the provisioner's histogram of
/// provisioning durations), so it is always current and never counted twice.
///
/// Hummingbird's `MetricsMiddleware` is not used: with its `CORSMiddleware` it cost
/// 17–32 µs more CPU per request than this and the gateway's CORS code, and it names
/// its series differently, through the process-wide `MetricsSystem` (BENCHMARKS.md,
/// "Hand-written routing against Hummingbird's Router").
package final class GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let rateLimited: CoreMetrics.Counter
    private let reconcileCorrections: CoreMetrics.Counter
    private let reconcilePasses: CoreMetrics.Counter
    /// Totals already added to the counters above, to add only the difference.
    private let exported = Mutex<(rateLimited: Int, corrections: Int, passes: Int)>((0, 0, 0))
    /// Instruments per (route, method, status), made once: the factory's lookup
    /// takes a lock and builds label strings, too much for every request.
    private let requestInstruments = Mutex<[RequestKey: RequestInstruments]>([:])

    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "http_request_duration_seconds": [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            ],
        ]
        self.factory = factory
        rateLimited = CoreMetrics.Counter(label: "storeplatform_rate_limited_total", factory: factory)
        reconcileCorrections = CoreMetrics.Counter(label: "storeplatform_reconcile_corrections_total", factory: factory)
        reconcilePasses = CoreMetrics.Counter(label: "storeplatform_reconcile_passes_total", factory: factory)
    }

    /// Counts one answered request and its latency.
    package func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        requestInstruments(route: route, method: method, status: status).record(duration)
    }

    /// The instruments of one (route, method, status), made on first use. A path
    /// that always answers the same way can hold on to them.
    func requestInstruments(route: String, method: String, status: Int) -> RequestInstruments {
        let key = RequestKey(route: route, method: method, status: status)
        return requestInstruments.withLock { instruments in
            if let existing = instruments[key] { return existing }
            let made = RequestInstruments(
                counter: CoreMetrics.Counter(
                    label: "http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory
                ),
                timer: CoreMetrics.Timer(label: "http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            )
            instruments[key] = made
            return made
        }
    }

    /// The Prometheus text exposition, after bringing the scraped values up to date.
    func scrape(_ controlPlane: ControlPlane) async throws -> [UInt8] {
        let snapshot = try await controlPlane.metricsSnapshot()
        let metrics = snapshot.response
        for count in metrics.storesByStatus {
            guard let status = StoreStatus.allCases.first(where: { $0.proto == count.status }) else { continue }
            CoreMetrics.Gauge(label: "storeplatform_stores", dimensions: [("status", status.rawValue)], factory: factory)
                .record(Int(count.count))
        }
        let refusals = Int(metrics.rateLimitedTotal)
        let totals = (corrections: Int(metrics.reconcileCorrections), passes: Int(metrics.reconcilePasses))
        let (newRefusals, newCorrections, newPasses) = exported.withLock { exported in
            // Two scrapes may read the totals in one order and lock in the other:
            // never move backwards, so nothing is counted twice.
            let delta = (
                refusals - exported.rateLimited, totals.corrections - exported.corrections, totals.passes - exported.passes
            )
            exported = (
                max(refusals, exported.rateLimited), max(totals.corrections, exported.corrections),
                max(totals.passes, exported.passes)
            )
            return delta
        }
        if newRefusals > 0 { rateLimited.increment(by: newRefusals) }
        if newCorrections > 0 { reconcileCorrections.increment(by: newCorrections) }
        if newPasses > 0 { reconcilePasses.increment(by: newPasses) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        buffer += Self.exposition(snapshot.provisioningDurations, name: "storeplatform_provisioning_duration_seconds").utf8
        return buffer
    }

    /// A histogram in the Prometheus text format: its cumulative buckets, sum and count.
    static func exposition(_ histogram: DurationBuckets.Snapshot, name: String) -> String {
        var text = "# TYPE \(name) histogram\n"
        for (bound, count) in zip(histogram.bounds, histogram.cumulativeCounts) {
            text += "\(name)_bucket{le=\"\(seconds(bound))\"} \(count)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n"
        text += "\(name)_sum \(seconds(histogram.sum))\n"
        text += "\(name)_count \(histogram.count)\n"
        return text
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(Double(seconds) + Double(attoseconds) / 1e18)"
    }
}

/// The request count and latency histogram of one (route, method, status).
struct RequestInstruments: Sendable {
    let counter: CoreMetrics.Counter
    let timer: CoreMetrics.Timer

    func record(_ duration: Duration) {
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
