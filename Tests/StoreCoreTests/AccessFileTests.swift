import Testing

@testable import StoreCore

@Suite struct AccessFileTests {
    static let path = "/etc/storeplatform/access.conf"

    static func problem(_ text: String) -> String {
        do {
            _ = try AccessFile.parse(text, path: path)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func everyFormOfLineParses() throws {
        let rules = try AccessFile.parse(
            """
            # PRINCIPAL                 ROLE      [own-stores]
            token:deploy                admin
            cert:CN=Billing Service,O=Example   operator
            uid:*                       operator  own-stores   # local users
            uid:1001                    viewer
            token:3                     operator
            tcp:10.0.0.7                viewer
            http:*                      viewer

            *                           viewer
            """,
            path: Self.path
        )
        #expect(rules == [
            .init(.exactly(Principal(.token, "deploy")), AccessGrant(.admin)),
            .init(.exactly(Principal(.cert, "CN=Billing Service,O=Example")), AccessGrant(.operator)),
            .init(.anyOf(.uid), AccessGrant(.operator, ownStoresOnly: true)),
            .init(.exactly(.uid(1001)), AccessGrant(.viewer)),
            .init(.exactly(Principal(.token, "3")), AccessGrant(.operator)),
            .init(.exactly(Principal(.tcp, "10.0.0.7")), AccessGrant(.viewer)),
            .init(.anyOf(.http), AccessGrant(.viewer)),
            .init(.anyone, AccessGrant(.viewer)),
        ])
    }

    @Test func mistakesNameTheLineAndWhatToWrite() {
        #expect(
            Self.problem("token:ci viewer\ntoken:ops boss\n")
                == "\(Self.path):2: unknown role \"boss\"; write viewer, operator or admin (then own-stores to limit an operator to the stores it created)"
        )
        #expect(
            Self.problem("# roles\nuser:alice admin\n")
                == "\(Self.path):2: \"user:alice\" is not a principal; write uid:N, token:NAME, cert:SUBJECT, tcp:ADDRESS, http:ADDRESS, KIND:* for every caller of a kind, or * for everyone not named"
        )
        #expect(Self.problem("token:a b viewer\n").hasPrefix("\(Self.path):1: \"token:a b\" is not a principal"))
        #expect(Self.problem("uid:alice admin\n") == "\(Self.path):1: \"uid:alice\" is not a uid; write uid: and a number, such as uid:1001")
        #expect(
            Self.problem("token:ci viewer\n\ntoken:ci operator\n")
                == "\(Self.path):3: token:ci already has a role on line 1; keep one of the two lines"
        )
        #expect(Self.problem("* viewer\n* operator\n") == "\(Self.path):2: * already has a role on line 1; keep one of the two lines")
        #expect(
            Self.problem("token:ci\n")
                == "\(Self.path):1: \"token:ci\" has no role; write a principal and its role, such as \"token:ci viewer\" or \"uid:* operator own-stores\""
        )
        #expect(
            Self.problem("token:ci viewer own-stores\n")
                == "\(Self.path):1: own-stores limits operators only; write \"token:ci operator own-stores\", or drop own-stores"
        )
        #expect(Self.problem("# nothing but comments\n\n") == "accepted")
        // Lines may end in CRLF, and are counted the same.
        #expect(
            Self.problem("token:ci viewer\r\n\r\ntoken:ci admin\r\n")
                == "\(Self.path):3: token:ci already has a role on line 1; keep one of the two lines"
        )
    }
}
