import StoreCore
import Testing

@Suite("Store engines")
struct StoreEngineTests {
    @Test func woocommerceIsAvailableWithTheStoreChart() {
        let engine = WooCommerceEngine()
        #expect(engine.name == "woocommerce")
        #expect(engine.isAvailable)
        #expect(engine.chart == "helm/store")
    }

    @Test func medusaIsKnownButUnavailable() {
        let engine = MedusaEngine()
        #expect(engine.name == "medusa")
        #expect(!engine.isAvailable)
    }

    @Test func knownEnginesInOrder() {
        #expect(StoreEngines.all.map(\.name) == ["woocommerce", "medusa"])
        #expect(StoreEngines.default.name == "woocommerce")
    }

    @Test(arguments: ["", "   ", "woocommerce", "WooCommerce", "WOOCOMMERCE", " woocommerce\n"])
    func resolvesToWooCommerce(raw: String) throws {
        let engine = try StoreEngines.resolve(raw)
        #expect(engine.name == "woocommerce")
        #expect(engine is WooCommerceEngine)
    }

    @Test(arguments: ["medusa", "Medusa", "MEDUSA"])
    func medusaIsRefusedAsUnavailable(raw: String) {
        let error = #expect(throws: PlatformError.self) { try StoreEngines.resolve(raw) }
        #expect(error?.code == .engineUnavailable)
        #expect(error?.message == "engine \"medusa\" is not available yet; use \"woocommerce\"")
    }

    @Test(arguments: ["shopify", "woo", "woocommerce2", "-woocommerce"])
    func unknownEngineListsTheKnownOnes(raw: String) {
        let error = #expect(throws: PlatformError.self) { try StoreEngines.resolve(raw) }
        #expect(error?.code == .invalidEngine)
        #expect(error?.message == "unknown engine \"\(raw)\"; known engines: woocommerce, medusa")
    }

    @Test func aHugeUnknownEngineIsCutInTheMessage() {
        let error = #expect(throws: PlatformError.self) { try StoreEngines.resolve(String(repeating: "x", count: 10_000)) }
        #expect(error?.code == .invalidEngine)
        #expect(error?.message == "unknown engine \"\(String(repeating: "x", count: 64))\"…; known engines: woocommerce, medusa")
    }
}
