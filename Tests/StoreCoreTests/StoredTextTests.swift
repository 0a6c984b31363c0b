import StoreCore
import Testing

@Suite struct StoredTextTests {
    @Test func theLimitsLiveInOnePlace() {
        #expect(StoredText.messageLimit == StoredText.Limit(headBytes: 2048, tailBytes: 2048))
        #expect(StoredText.actorLimit == StoredText.Limit(headBytes: 128, tailBytes: 64))
        #expect(StoredText.marker(cutBytes: 5) == "… [5 bytes cut] …")
        #expect(StoredText.maxMarkerBytes == 39)
    }

    @Test func shortTextIsKeptWhole() {
        // Up to the head, the tail and the longest marker: cutting would not shorten it.
        let whole = String(repeating: "w", count: 2048 + 2048 + 39)
        #expect(StoredText.message(whole) == whole)
        let longer = whole + "w"
        #expect(StoredText.message(longer) == String(repeating: "w", count: 2048) + "… [40 bytes cut] …" + String(repeating: "w", count: 2048))
        #expect(StoredText.message("") == "")
    }

    @Test func longTextKeepsItsHeadAndTailAndSaysHowMuchWasCut() {
        let head = "Error: INSTALLATION FAILED\n" + String(repeating: "h", count: 2048 - 27)
        let middle = String(repeating: "m", count: 100_000)
        let tail = String(repeating: "t", count: 2048 - 14) + "\nexit status 1"
        let bounded = StoredText.message(head + middle + tail)
        #expect(bounded == head + "… [100000 bytes cut] …" + tail)
        #expect(bounded.utf8.count == 2048 + 2048 + "… [100000 bytes cut] …".utf8.count)
        // Bounding again changes nothing.
        #expect(StoredText.message(bounded) == bounded)
    }

    @Test func cutsNeverSplitACharacter() {
        // "é" is 2 bytes: byte 4 of the head and the first byte of the tail fall inside one.
        let limit = StoredText.Limit(headBytes: 4, tailBytes: 3)
        let text = "abcé" + String(repeating: "x", count: 100) + "éyz"
        let bounded = StoredText.bounded(text, to: limit)
        #expect(bounded == "abc… [104 bytes cut] …yz")
    }

    @Test func actorsAreBoundedToo() {
        let actor = "http:" + String(repeating: "1", count: 10_000)
        let bounded = StoredText.actor(actor)
        #expect(bounded == "http:" + String(repeating: "1", count: 123) + "… [9813 bytes cut] …" + String(repeating: "1", count: 64))
    }
}
