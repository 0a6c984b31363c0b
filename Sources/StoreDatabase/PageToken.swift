import Foundation
import StoreCore

/// Opaque paging tokens: the key of the last row of a page, as URL-safe base64
/// (RFC 4648 §5, no padding) of a versioned text form. A token carries no secret and
/// no filter; a token that does not decode to a key of the right kind is refused.
package enum PageToken {
    /// The key of a row of ``StoreDatabase/listStores(statuses:pageSize:pageToken:)``'s
    /// order (createdAt desc, id desc).
    package struct StoreKey: Equatable {
        package var createdAt: Int64
        package var id: String

        package init(createdAt: Int64, id: String) {
            self.createdAt = createdAt
            self.id = id
        }
    }

    package static func token(for key: StoreKey) -> String {
        encode("s1:\(key.createdAt):\(key.id)")
    }

    /// The store key in `token`; `nil` for the empty token (the first page).
    package static func storeKey(_ token: String) throws -> StoreKey? {
        guard !token.isEmpty else { return nil }
        let parts = try decode(token).split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "s1", let createdAt = Int64(parts[1]), !parts[2].isEmpty else {
            throw invalid
        }
        return StoreKey(createdAt: createdAt, id: String(parts[2]))
    }

    package static func token(forAuditID id: Int64) -> String {
        encode("a1:\(id)")
    }

    /// The audit row id in `token`; `nil` for the empty token (the first page).
    package static func auditID(_ token: String) throws -> Int64? {
        guard !token.isEmpty else { return nil }
        let parts = try decode(token).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "a1", let id = Int64(parts[1]), id > 0 else {
            throw invalid
        }
        return id
    }

    // MARK: Encoding

    private static var invalid: PlatformError {
        PlatformError(.invalidArgument, "page token is not one this server issued")
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// URL-safe base64 without padding, byte by byte (Foundation's encoder and three
    /// string replacements were most of the cost of a ListStores page).
    private static func encode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let group = UInt32(bytes[index]) << 16
                | (remaining > 1 ? UInt32(bytes[index + 1]) << 8 : 0)
                | (remaining > 2 ? UInt32(bytes[index + 2]) : 0)
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            if remaining > 1 { out.append(alphabet[Int(group >> 6 & 63)]) }
            if remaining > 2 { out.append(alphabet[Int(group & 63)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func decode(_ token: String) throws -> String {
        // Only the URL-safe alphabet: the standard one's "+/=" never appear in a token we issued.
        guard token.utf8.count <= 1024,
            token.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") })
        else { throw invalid }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else {
            throw invalid
        }
        return text
    }
}
