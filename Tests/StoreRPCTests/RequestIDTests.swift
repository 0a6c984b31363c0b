import Testing

@testable import StoreRPC

@Suite struct RequestIDTests {
    @Test func madeIdsAreDistinctAndUseTheDocumentedCharacters() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = RequestID.make()
            #expect(id.hasPrefix("req-"))
            #expect(id.utf8.count == 15)
            #expect(id.utf8.dropFirst(4).allSatisfy(allowed.contains))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }
}
