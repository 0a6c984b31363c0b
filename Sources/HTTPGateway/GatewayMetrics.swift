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
/// Request counts and latencies are recorded per request. Values the control
/// plane already keeps (stores by status, rate-limit refusals, reconcile
/// corrections) are read on each scrape, so they are always current and never
/// counted twice.
final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let provisioningDurations: CoreMetrics.Timer
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
            "storeplatform_provisioning_duration_seconds": [
                .milliseconds(10), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
                .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600),
            ],
        ]
        self.factory = factory
        provisioningDurations = CoreMetrics.Timer(label: "storeplatform_provisioning_duration_seconds", factory: factory)
        rateLimited = CoreMetrics.Counter(label: "storeplatform_rate_limited_total", factory: factory)
        reconcileCorrections = CoreMetrics.Counter(label: "storeplatform_reconcile_corrections_total", factory: factory)
        reconcilePasses = CoreMetrics.Counter(label: "storeplatform_reconcile_passes_total", factory: factory)
    }

    /// Counts one answered request and its latency.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
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

    /// Records how long a store took from queued to ready.
    func recordProvisioning(milliseconds: Int64) {
        provisioningDurations.recordMilliseconds(milliseconds)
    }

    /// The Prometheus text exposition, after bringing the scraped values up to date.
    func scrape(_ controlPlane: ControlPlane) async throws -> [UInt8] {
        let counts = try await controlPlane.provisioner.database.countsByStatus()
        for status in StoreStatus.allCases {
            CoreMetrics.Gauge(label: "storeplatform_stores", dimensions: [("status", status.rawValue)], factory: factory)
                .record(counts[status] ?? 0)
        }
        let refusals = controlPlane.rateLimiter.refusals
        let totals = controlPlane.reconciler.totals
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
        return buffer
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
