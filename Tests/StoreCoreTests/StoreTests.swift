import Foundation
import StoreCore
import TestSupport
import Testing

@Suite("Store record, ids and derived names")
struct StoreTests {
    static let alphabet = Set("abcdefghijklmnopqrstuvwxyz234567")

    @Test func idIsPrefixAndTwelveBase32Characters() {
        for _ in 0..<200 {
            let id = Store.makeID()
            #expect(id.hasPrefix("st_"))
            #expect(id.count == 15)
            #expect(id.dropFirst(3).allSatisfy { Self.alphabet.contains($0) })
        }
    }

    @Test func idsAreUnique() {
        let ids = Set((0..<10_000).map { _ in Store.makeID() })
        #expect(ids.count == 10_000)
    }

    @Test func idFromASeededGeneratorIsReproducible() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        #expect(Store.makeID(using: &first) == Store.makeID(using: &second))
    }

    @Test func namespaceIsNameAndIdSuffix() throws {
        let name = try StoreName.validate("shop")
        #expect(Store.namespace(forName: name, id: "st_123456abcdef") == "store-shop-abcdef")
        #expect(Store.release(forName: name) == "shop")
    }

    @Test func aNamespaceGivesBackItsStoreName() throws {
        for raw in ["shop", "shop-1", "a-b-c-9"] {
            let namespace = Store.namespace(forName: try StoreName.validate(raw), id: Store.makeID())
            #expect(Store.name(inNamespace: namespace) == raw)
        }
        #expect(Store.name(inNamespace: "kube-system") == nil)
        #expect(Store.name(inNamespace: "store-abcdef") == nil)
    }

    @Test func sameNameWithDifferentIdsGetsDifferentNamespaces() throws {
        let name = try StoreName.validate("shop")
        let namespaces = Set((0..<1_000).map { _ in Store.namespace(forName: name, id: Store.makeID()) })
        #expect(namespaces.count == 1_000)
    }

    @Test func longestNameGivesAValidNamespaceOfAtMost63() throws {
        let name = try StoreName.validate("a" + String(repeating: "9", count: 39))
        let namespace = Store.namespace(forName: name, id: Store.makeID())
        #expect(namespace.count == 53)
        #expect(namespace.count <= 63)
        #expect(namespace.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
        #expect(namespace.first!.isLetter)
        #expect(namespace.last! != "-")
    }

    @Test func queuedStoreDerivesItsFields() throws {
        let now = Date(timeIntervalSince1970: 1_767_225_600)
        let store = Store.queued(name: try StoreName.validate("shop"), engine: WooCommerceEngine(), id: "st_aaaaaabbbbbb", now: now)
        #expect(store == Store(
            id: "st_aaaaaabbbbbb", name: "shop", engine: "woocommerce", status: .queued, url: "",
            namespace: "store-shop-bbbbbb", release: "shop", errorMessage: "", attempts: 0,
            createdAt: now, updatedAt: now, readyAt: nil, deletedAt: nil, provisioningDurationMilliseconds: nil,
            version: "6.9-wc10.3", revision: 1
        ))
    }

    @Test func codableRoundTrips() throws {
        let now = Date(timeIntervalSince1970: 1_767_225_600)
        var store = Store.queued(name: try StoreName.validate("shop"), engine: WooCommerceEngine(), now: now)
        store.status = .ready
        store.url = "http://shop.localhost"
        store.readyAt = now.addingTimeInterval(90)
        store.provisioningDurationMilliseconds = 90_000
        store.attempts = 1
        let decoded = try JSONDecoder().decode(Store.self, from: JSONEncoder().encode(store))
        #expect(decoded == store)
    }
}
