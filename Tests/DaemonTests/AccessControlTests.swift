import Foundation
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// Roles and store owners against a real daemon: callers over the Unix socket and
/// TCP, storectl included.
@Suite struct AccessControlTests {
    /// The message of the error a call failed with, or "OK".
    private func refusal(_ body: () async throws -> Void) async -> String {
        do {
            try await body()
            return "OK"
        } catch let error as RPCError {
            return "\(error.errorCode): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    /// Without an access file, a uid that is not an --admin-uid changes only the
    /// stores it created: here the test's uid is not an admin (4242 is), and a TCP
    /// caller (an operator of every store) made the other store.
    @Test func aNonAdminUIDChangesOnlyItsOwnStores() async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--admin-uid", "4242"])
        try await daemon.start()
        let local = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let remote = try await RPCClient.connect(to: .tcp(host: "127.0.0.1", port: daemon.tcpPort))
        let uid = getuid()

        let theirs = try await remote.create("theirs")
        #expect(theirs.owner == "tcp:127.0.0.1")
        let mine = try await local.create("mine")
        #expect(mine.owner == "uid:\(uid)")

        #expect(
            await refusal { _ = try await local.delete(theirs.id) }
                == "PERMISSION_DENIED: uid:\(uid) may change only the stores it created; \(theirs.id) was created by tcp:127.0.0.1. "
                + "Ask its owner or an admin, or make uid:\(uid) an operator of every store (grant it in an access file, storeplatformd --access-file)"
        )
        #expect(await refusal { _ = try await local.retry(theirs.id) }.hasPrefix("PERMISSION_DENIED: uid:\(uid) may change only the stores it created"))
        #expect(
            await refusal {
                _ = try await local.unary(M.AdminService.listOperations, Storeplatform_V1_ListOperationsRequest())
            } == "PERMISSION_DENIED: uid:\(uid) is an operator; ListOperations needs the admin role (grant it in an access file, storeplatformd --access-file)"
        )
        // Reads are open to every caller.
        #expect(try await local.store(theirs.id).owner == "tcp:127.0.0.1")

        #expect(try await local.delete(mine.id).status == .deleting)
        #expect(try await remote.delete(theirs.id).status == .deleting)
        try await local.waitFor(mine.id, [.deleted])
        try await local.waitFor(theirs.id, [.deleted])
        await local.close()
        await remote.close()
        try await daemon.terminate()
    }

    /// The reported problem itself: on a socket open to everyone, another local user
    /// cannot delete root's store, and can delete its own. Needs root to run storectl
    /// as another uid.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/setpriv")))
    func anotherUserCannotDeleteRootsStore() async throws {
        let directory = temporaryPath("spd")
        try FileManager.default.createDirectory(atPath: directory + "/run", withIntermediateDirectories: true)
        chmod(directory, 0o755)
        chmod(directory + "/run", 0o755)
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--socket-mode", "0666"], directory: directory)
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]
        let rootStore = try await runProduct("storectl", ["create", "roots-shop", "--json"] + socket)
        let rootID = try Storeplatform_V1_CreateStoreResponse(jsonString: rootStore.stdout).store.id

        let refused = try await runProduct("storectl", ["delete", rootID] + socket, user: 65534)
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("error: PERMISSION_DENIED: uid:65534 may change only the stores it created; \(rootID) was created by uid:0"),
            "\(refused.stderr)"
        )
        let own = try await runProduct("storectl", ["create", "nobodys-shop", "--json"] + socket, user: 65534)
        #expect(own.status == 0, "\(own.stderr)")
        let ownStore = try Storeplatform_V1_CreateStoreResponse(jsonString: own.stdout).store
        #expect(ownStore.owner == "uid:65534")
        let deleted = try await runProduct("storectl", ["delete", ownStore.id, "--wait"] + socket, user: 65534)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        // Root, an admin, may delete any store.
        #expect(try await runProduct("storectl", ["delete", rootID] + socket).status == 0)
        try await daemon.terminate()
    }

    /// Named tokens and an access file: a viewer token reads but may not change, an
    /// operator token changes, an admin token calls admin methods over TCP; storectl
    /// shows the owner in get and list.
    @Test func tokensGetTheirRolesFromTheAccessFile() async throws {
        let directory = try makeTemporaryDirectory("spd")
        try "# name token\nci ci-secret\nops ops-secret\ndeploy deploy-secret\n"
            .write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
        try "token:ci      viewer\ntoken:deploy  admin   # CI deploys\n"
            .write(toFile: directory + "/access.conf", atomically: true, encoding: .utf8)
        try "deploy deploy-secret\n".write(toFile: directory + "/deploy-token", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            extraArguments: quickCluster + ["--token-file", directory + "/tokens", "--access-file", directory + "/access.conf"],
            directory: directory
        )
        try await daemon.start()
        let endpoint = RPCEndpoint.tcp(host: "127.0.0.1", port: daemon.tcpPort)
        let viewer = try await RPCClient.connect(to: endpoint, metadata: ["authorization": "Bearer ci-secret"])
        let ops = try await RPCClient.connect(to: endpoint, metadata: ["authorization": "Bearer ops-secret"])

        #expect(
            await refusal { _ = try await viewer.create("shop") }
                == "PERMISSION_DENIED: token:ci is a viewer; CreateStore needs the operator role (grant it in \(directory)/access.conf)"
        )
        let shop = try await ops.create("shop")
        #expect(shop.owner == "token:ops")
        #expect(
            await refusal { _ = try await viewer.delete(shop.id) }
                == "PERMISSION_DENIED: token:ci is a viewer; DeleteStore needs the operator role (grant it in \(directory)/access.conf)"
        )
        #expect(try await viewer.store(shop.id).name == "shop")
        #expect(
            await refusal {
                _ = try await ops.unary(M.AdminService.reconcile, Storeplatform_V1_ReconcileRequest())
            } == "PERMISSION_DENIED: token:ops is an operator; Reconcile needs the admin role (grant it in \(directory)/access.conf)"
        )

        // storectl with a NAME TOKEN file: an admin over TCP.
        let tcp = ["--tcp", "127.0.0.1:\(daemon.tcpPort)", "--token-file", directory + "/deploy-token"]
        let reconcile = try await runProduct("storectl", ["reconcile"] + tcp)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        let limits = try await runProduct("storectl", ["limits", "--max-live-stores", "7"] + tcp)
        #expect(limits.status == 0, "\(limits.stderr)")
        let get = try await runProduct("storectl", ["get", shop.id] + tcp)
        #expect(get.stdout.contains("owner") && get.stdout.contains("token:ops"), "\(get.stdout)")
        let list = try await runProduct("storectl", ["list"] + tcp)
        #expect(list.stdout.contains("OWNER") && list.stdout.contains("token:ops"), "\(list.stdout)")

        #expect(try await ops.delete(shop.id).status == .deleting)
        try await ops.waitFor(shop.id, [.deleted])
        await viewer.close()
        await ops.close()
        try await daemon.terminate()
    }

    /// Mistakes in the access file or the token file stop the daemon at start, naming
    /// the file, the line and what to write.
    @Test func accessAndTokenFileMistakesAreStartupErrors() async throws {
        let directory = try makeTemporaryDirectory("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = ["--socket", directory + "/run/d.sock", "--tcp", "127.0.0.1:0", "--http", "off", "--data-dir", directory + "/data"]
        let access = directory + "/access.conf"
        let cases: [(String, String)] = [
            (
                "token:ci viewer\ntoken:ops superuser\n",
                "access file \(access):2: unknown role \"superuser\"; write viewer, operator or admin"
            ),
            (
                "# who\nbob operator\n",
                "access file \(access):2: \"bob\" is not a principal; write uid:N, token:NAME, cert:SUBJECT"
            ),
            (
                "uid:1001 viewer\nuid:1001 operator\n",
                "access file \(access):2: uid:1001 already has a role on line 1; keep one of the two lines"
            ),
        ]
        for (text, expected) in cases {
            try text.write(toFile: access, atomically: true, encoding: .utf8)
            let result = try await runProduct("storeplatformd", base + ["--access-file", access])
            #expect(result.status == 1)
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
        let missing = try await runProduct("storeplatformd", base + ["--access-file", directory + "/nope.conf"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read access file \(directory)/nope.conf"), "\(missing.stderr)")

        try "ci one\nci two\n".write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
        let tokens = try await runProduct("storeplatformd", base + ["--token-file", directory + "/tokens"])
        #expect(tokens.status == 1)
        #expect(
            tokens.stderr.contains("\(directory)/tokens:2: the name token:ci is already used on line 1; give each token its own name"),
            "\(tokens.stderr)"
        )
    }

    /// SIGHUP re-reads the access file: a viewer made an operator may create from
    /// then on; a broken file keeps the roles in force and says why.
    @Test func sighupReloadsTheAccessFile() async throws {
        let directory = try makeTemporaryDirectory("spd")
        try "ci ci-secret\n".write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
        let accessFile = directory + "/access.conf"
        try "token:ci viewer\n".write(toFile: accessFile, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            extraArguments: quickCluster + ["--token-file", directory + "/tokens", "--access-file", accessFile], directory: directory
        )
        try await daemon.start()
        let client = try await RPCClient.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.tcpPort), metadata: ["authorization": "Bearer ci-secret"]
        )
        #expect(await refusal { _ = try await client.create("before") }.hasPrefix("PERMISSION_DENIED: token:ci is a viewer"))

        try "token:ci operator\n".write(toFile: accessFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await waitForLog(daemon, "SIGHUP: access file reloaded")
        // The same connection: roles are decided per call.
        #expect(try await client.create("after").owner == "token:ci")

        try "token:ci overlord\n".write(toFile: accessFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await waitForLog(daemon, "SIGHUP: access file reload failed, keeping the previous roles")
        #expect(daemon.log.contains("overlord"), "\(daemon.log)")
        #expect(try await client.create("still").owner == "token:ci")
        await client.close()
        try await daemon.terminate()
    }
}
