import Foundation
import Testing

@testable import StoreCore

@Suite struct AccessPolicyTests {
    static func store(owner: String) -> Store {
        Store.queued(name: try! StoreName.validate("shop"), engine: WooCommerceEngine(), id: "st_abc", owner: owner, now: Date())
    }

    static func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as PlatformError {
            #expect(error.code == .permissionDenied)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func withoutAFileAdminUIDsAreAdminsOtherUIDsOwnTheirStoresAndTheRestOperate() {
        let policy = AccessPolicy(adminUIDs: [0, 1000])
        #expect(policy.grant(for: .uid(0)) == AccessGrant(.admin))
        #expect(policy.grant(for: .uid(1000)) == AccessGrant(.admin))
        #expect(policy.grant(for: .uid(1001)) == AccessGrant(.operator, ownStoresOnly: true))
        for kind in [Principal.Kind.token, .cert, .tcp, .http] {
            #expect(policy.grant(for: Principal(kind, "x")) == AccessGrant(.operator))
        }
        #expect(
            Self.refusal { try policy.require(.admin, of: Principal(.token, "1"), for: "Reconcile") }
                == "token:1 is an operator; Reconcile needs the admin role (grant it in an access file, storeplatformd --access-file)"
        )
    }

    @Test func theMostPreciseLineWinsAndAdminUIDsStayAdmins() throws {
        let rules = try AccessFile.parse("token:ci viewer\ntoken:* admin\n* viewer\nuid:0 viewer\n", path: "/a")
        let policy = AccessPolicy(adminUIDs: [0], rules: rules, file: "/a")
        #expect(policy.grant(for: Principal(.token, "ci")) == AccessGrant(.viewer))
        #expect(policy.grant(for: Principal(.token, "deploy")) == AccessGrant(.admin))
        #expect(policy.grant(for: Principal(.cert, "CN=x")) == AccessGrant(.viewer))
        #expect(policy.grant(for: .uid(0)) == AccessGrant(.admin))
        #expect(policy.grant(for: .uid(7)) == AccessGrant(.viewer))
        #expect(policy.adminUIDsByName == [0])
        let named = AccessPolicy(adminUIDs: [0], rules: try AccessFile.parse("uid:1001 admin\nuid:1002 operator\n", path: "/a"))
        #expect(named.adminUIDsByName == [0, 1001])
        #expect(
            Self.refusal { try policy.require(.operator, of: Principal(.token, "ci"), for: "DeleteStore") }
                == "token:ci is a viewer; DeleteStore needs the operator role (grant it in /a)"
        )
    }

    @Test func anOwnStoresOperatorChangesOnlyWhatItCreated() {
        let policy = AccessPolicy(adminUIDs: [0])
        let me = Principal.uid(1001)
        #expect(Self.refusal { try policy.requireChange(of: Self.store(owner: "uid:1001"), by: me, for: "DeleteStore") } == nil)
        #expect(
            Self.refusal { try policy.requireChange(of: Self.store(owner: "uid:0"), by: me, for: "DeleteStore") }
                == "uid:1001 may change only the stores it created; st_abc was created by uid:0. Ask its owner or an admin, or make uid:1001 an operator of every store (grant it in an access file, storeplatformd --access-file)"
        )
        #expect(
            Self.refusal { try policy.requireChange(of: Self.store(owner: ""), by: me, for: "RetryStore") }?
                .hasPrefix("uid:1001 may change only the stores it created; st_abc has no recorded owner") == true
        )
        // Admins and operators of every store change any store, an unowned one too.
        #expect(Self.refusal { try policy.requireChange(of: Self.store(owner: ""), by: .uid(0), for: "DeleteStore") } == nil)
        #expect(Self.refusal { try policy.requireChange(of: Self.store(owner: "uid:0"), by: Principal(.token, "ops"), for: "DeleteStore") } == nil)
    }

    @Test func principalsReadAndWriteKindColonName() {
        #expect(Principal("cert:CN=billing,O=Example") == Principal(.cert, "CN=billing,O=Example"))
        #expect(Principal("uid:1001")?.uid == 1001)
        #expect(Principal("token:ci")?.uid == nil)
        #expect(Principal("uid:") == nil)
        #expect(Principal("user:alice") == nil)
        #expect(Principal(.http, "[::1]:80").description == "http:[::1]:80")
        #expect(PrincipalPattern("cert:*") == .anyOf(.cert))
        #expect(PrincipalPattern("*")?.matches(.uid(3)) == true)
    }
}
