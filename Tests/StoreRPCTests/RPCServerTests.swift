import Foundation
import NIOCore
import RPCTestSupport
import StorePlatformProto
import Synchronization
import Testing

@testable import StoreRPC

@Suite("RPC server over real sockets")
struct RPCServerTests {
    @Test(arguments: [("unix", TestMethod.echo.name), ("tcp", TestMethod.echo.name), ("unix", TestMethod.inlineEcho.name), ("tcp", TestMethod.inlineEcho.name)])
    func unaryCallAnswersAndEchoesTheRequestID(transport: String, method: String) async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: transport == "unix" ? server.unix : server.tcp)
        let response = try await client.call(
            method, payload: try request("abc").serializedData(), metadata: ["request-id": "rid-42"]
        )
        let reply = try Reply(serializedBytes: response.payload)
        #expect(reply.id == "abc")
        #expect(reply.name == "rid-42")
        #expect(response.metadata["request-id"] == "rid-42")

        let generated = try await client.call(method, payload: try request("abc").serializedData())
        #expect(generated.metadata["request-id"]?.hasPrefix("req-") == true)
        #expect(generated.metadata["request-id"]?.count == 15)
        await client.close()
        try await server.stop()
    }

    @Test func thousandConcurrentCallsOverFiftyConnectionsAllAnswerTheirOwnID() async throws {
        let server = try await TestServer.start()
        var clients: [RPCClient] = []
        for index in 0..<50 {
            clients.append(try await RPCClient.connect(to: index % 2 == 0 ? server.unix : server.tcp))
        }
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for call in 0..<1000 {
                let client = clients[call % clients.count]
                group.addTask {
                    let method = call % 2 == 0 ? TestMethod.echo : TestMethod.inlineEcho
                    let reply = try await client.unary(method, request("call-\(call)"))
                    return reply.id == "call-\(call)" ? 0 : 1
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        for client in clients { await client.close() }
        try await server.stop()
    }

    @Test func responsesComeBackInCompletionOrder() async throws {
        let server = try await TestServer.start()
        let socket = try RawConnection( server.unix)
        try socket.send(try requestEnvelope(stream: 1, method: TestMethod.slow, id: "300"))
        try socket.send(try requestEnvelope(stream: 3, method: TestMethod.echo, id: "fast"))
        try socket.send(try requestEnvelope(stream: 5, method: TestMethod.inlineEcho, id: "inline"))
        var order: [UInt32] = []
        for _ in 0..<3 {
            let answer = try #require(try await socket.receive())
            #expect(answer.status.code == .ok)
            order.append(answer.streamID)
        }
        // The slow call (1) answers last; the two fast ones in either order.
        #expect(order.last == 1)
        #expect(Set(order.prefix(2)) == [3, 5])
        try await server.stop()
    }

    /// The server splits frames itself: several in one write, and one written a
    /// byte at a time, are all answered, each once.
    @Test func framesCoalescedInOneWriteOrSplitAcrossWritesAreAllAnswered() async throws {
        let server = try await TestServer.start()
        let socket = try RawConnection(server.unix)
        var coalesced: [UInt8] = []
        for stream: UInt32 in [1, 3, 5] {
            coalesced += BlockingFrameSocket.frame(try requestEnvelope(stream: stream, method: TestMethod.inlineEcho, id: "c\(stream)").serializedBytes() as [UInt8])
        }
        try socket.send(bytes: coalesced)
        let split = BlockingFrameSocket.frame(try requestEnvelope(stream: 7, method: TestMethod.echo, id: "split").serializedBytes() as [UInt8])
        for byte in split {
            try socket.send(bytes: [byte])
        }
        var answered: [UInt32: String] = [:]
        for _ in 0..<4 {
            let answer = try #require(try await socket.receive())
            #expect(answer.status.code == .ok)
            #expect(answered[answer.streamID] == nil)
            answered[answer.streamID] = try Reply(serializedBytes: answer.payload).id
        }
        #expect(answered == [1: "c1", 3: "c3", 5: "c5", 7: "split"])
        try await server.stop()
    }

    // MARK: Bad input

    @Test func oversizedLengthGetsErrorFrameOnStreamZeroAndClose() async throws {
        let server = try await TestServer.start { $0.maxFrameLength = 1024 }
        let socket = try RawConnection( server.unix)
        try socket.send(bytes: [0x00, 0x00, 0x04, 0x01])
        let error = try #require(try await socket.receive())
        #expect(error.streamID == 0)
        #expect(error.type == .error)
        #expect(error.status.code == .resourceExhausted)
        #expect(error.status.errorCode == "FRAME_TOO_LARGE")
        #expect(try await socket.isClosedByPeer())
        try await server.stop()
    }

    @Test func envelopeThatDoesNotParseGetsErrorFrameAndClose() async throws {
        let server = try await TestServer.start()
        let socket = try RawConnection( server.tcp)
        try socket.sendFrame([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        let error = try #require(try await socket.receive())
        #expect(error.streamID == 0)
        #expect(error.type == .error)
        #expect(error.status.code == .invalidArgument)
        #expect(error.status.errorCode == "MALFORMED_ENVELOPE")
        #expect(try await socket.isClosedByPeer())
        // The server keeps serving other connections.
        let client = try await RPCClient.connect(to: server.tcp)
        #expect(try await client.unary(TestMethod.echo, request("still-up")).id == "still-up")
        await client.close()
        try await server.stop()
    }

    /// After an ERROR frame the server closes its own side of the connection
    /// first: the client reads the frame, then the end of the stream, although
    /// the server never read the requests it sent after the bad frame (a full
    /// close with bytes unread resets the connection, and a reset can destroy the
    /// frame before it is read); the connection stays half open for the client to
    /// close.
    @Test func errorFrameClosesTheServersSideFirst() async throws {
        let server = try await TestServer.start()
        for endpoint in [server.unix, server.tcp] {
            let socket = try RawConnection(endpoint)
            let trailing = try BlockingFrameSocket.frame(requestEnvelope(stream: 1, method: TestMethod.echo).serializedBytes())
            // A frame that does not parse, then 16 KiB of requests never answered.
            let unanswered = Array([[UInt8]](repeating: trailing, count: 16 * 1024 / trailing.count).joined())
            try socket.send(bytes: BlockingFrameSocket.frame([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + unanswered)
            let error = try #require(try await socket.receive())
            #expect(error.type == .error)
            #expect(error.status.errorCode == "MALFORMED_ENVELOPE")
            #expect(try await socket.isClosedByPeer())
            // Half open: the server's socket is still there to take a send (a send
            // to a Unix socket whose peer closed fails with EPIPE at once).
            try socket.send(bytes: trailing)
        }
        try await server.stop()
    }

    @Test func perStreamErrorsKeepTheConnectionUp() async throws {
        let server = try await TestServer.start()
        let socket = try RawConnection( server.unix)

        try socket.send(try requestEnvelope(stream: 1, method: "/no.Such/Method"))
        var answer = try #require(try await socket.receive())
        #expect(answer.streamID == 1)
        #expect(answer.status.code == .unimplemented)
        #expect(answer.status.errorCode == "UNIMPLEMENTED")

        try socket.send(try requestEnvelope(stream: 3, method: TestMethod.echo, payload: [0xFF, 0xFF, 0xFF]))
        answer = try #require(try await socket.receive())
        #expect(answer.streamID == 3)
        #expect(answer.status.code == .invalidArgument)
        #expect(answer.status.message.contains("storeplatform.v1.GetStoreRequest"))

        try socket.send(try requestEnvelope(stream: 3, method: TestMethod.echo))
        answer = try #require(try await socket.receive())
        #expect(answer.streamID == 3)
        #expect(answer.status.code == .invalidArgument)
        #expect(answer.status.message.contains("not greater"))

        try socket.send(try requestEnvelope(stream: 6, method: TestMethod.echo))
        answer = try #require(try await socket.receive())
        #expect(answer.streamID == 6)
        #expect(answer.status.code == .invalidArgument)
        #expect(answer.status.message.contains("even"))

        try socket.send(try requestEnvelope(stream: 7, method: TestMethod.echo, id: "alive"))
        answer = try #require(try await socket.receive())
        #expect(answer.streamID == 7)
        #expect(answer.status.code == .ok)
        #expect(try Reply(serializedBytes: answer.payload).id == "alive")
        try await server.stop()
    }

    @Test(arguments: [TestMethod.echo.name, TestMethod.inlineEcho.name])
    func theMetadataCheckRefusesEveryCallWithoutMetadataNotJustTheFirst(method: String) async throws {
        struct MissingTenant: Error {}
        let server = try await TestServer.start(metadataCheck: { metadata in
            if metadata["tenant"] == nil { throw MissingTenant() }
        })
        let client = try await RPCClient.connect(to: server.unix)
        for metadata in [[:], [:], ["tenant": "t1"], [:]] as [[String: String]] {
            do {
                _ = try await client.call(method, payload: try request("abc").serializedData(), metadata: metadata)
                #expect(metadata["tenant"] == "t1", "answered without a tenant")
            } catch {
                #expect(metadata.isEmpty, "refused with a tenant: \(error)")
                #expect((error as? RPCError)?.code == .invalidArgument)
            }
        }
        await client.close()
        try await server.stop()
    }

    @Test func handlerErrorsBecomeInternalWithTheRequestID() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.unix)
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(TestMethod.fail.name, payload: Data(), metadata: ["request-id": "rid-7"])
        }
        #expect(error?.code == .internal)
        #expect(error?.errorCode == "INTERNAL_ERROR")
        #expect(error?.message.contains("rid-7") == true)
        await client.close()
        try await server.stop()
    }

    @Test func inFlightLimitPerConnectionAnswersResourceExhausted() async throws {
        let server = try await TestServer.start { $0.maxInFlightPerConnection = 2 }
        let socket = try RawConnection( server.unix)
        try socket.send(try requestEnvelope(stream: 1, method: TestMethod.slow, id: "400"))
        try socket.send(try requestEnvelope(stream: 3, method: TestMethod.slow, id: "400"))
        try socket.send(try requestEnvelope(stream: 5, method: TestMethod.echo))
        let refused = try #require(try await socket.receive())
        #expect(refused.streamID == 5)
        #expect(refused.status.code == .resourceExhausted)
        let done = [try await socket.receive(), try await socket.receive()].compactMap { $0?.streamID }
        #expect(Set(done) == [1, 3])
        try await server.stop()
    }

    @Test func connectionLimitAnswersResourceExhaustedAndCloses() async throws {
        let server = try await TestServer.start { $0.maxTCPConnections = 2 }
        let first = try await RPCClient.connect(to: server.tcp)
        let second = try await RPCClient.connect(to: server.tcp)
        _ = try await first.unary(TestMethod.echo, request("1"))
        _ = try await second.unary(TestMethod.echo, request("2"))
        let third = try RawConnection(server.tcp)
        // Even an inline method is not answered on a refused connection.
        try third.send(try requestEnvelope(stream: 1, method: TestMethod.inlineEcho))
        let error = try #require(try await third.receive())
        #expect(error.type == .error)
        #expect(error.streamID == 0)
        #expect(error.status.code == .resourceExhausted)
        #expect(error.status.message == "too many TCP connections (limit 2); close idle connections and retry")
        #expect(try await third.isClosedByPeer())
        // TCP being full takes nothing from the admin socket.
        let admin = try await RPCClient.connect(to: server.unix)
        #expect(try await admin.unary(TestMethod.echo, request("admin")).id == "admin")
        #expect(server.server.openConnections(.tcp) == 2)
        await admin.close()
        await first.close()
        await second.close()
        try await server.stop()
    }

    /// The admin socket's last places are for admin uids: here the test's own uid is
    /// not an admin, so it gets the socket's places but those.
    @Test func theAdminSocketKeepsItsLastPlacesForAdmins() async throws {
        let server = try await TestServer.start {
            $0.unixSocket?.adminUIDs = [4242]
            $0.maxUnixConnections = 3
            $0.reservedAdminConnections = 1
        }
        let first = try await RPCClient.connect(to: server.unix)
        let second = try await RPCClient.connect(to: server.unix)
        _ = try await first.unary(TestMethod.echo, request("1"))
        _ = try await second.unary(TestMethod.echo, request("2"))
        let third = try RawConnection(server.unix)
        let error = try #require(try await third.receive())
        #expect(error.status.code == .resourceExhausted)
        #expect(
            error.status.message
                == "too many connections on the admin socket (limit 3; the last 1 are kept for admins); close idle connections and retry"
        )
        await first.close()
        await second.close()
        try await server.stop()

        // The same uid as an admin gets every place.
        let adminServer = try await TestServer.start {
            $0.unixSocket?.adminUIDs = [getuid()]
            $0.maxUnixConnections = 3
            $0.reservedAdminConnections = 1
        }
        var clients: [RPCClient] = []
        for index in 0..<3 {
            let client = try await RPCClient.connect(to: adminServer.unix)
            #expect(try await client.unary(TestMethod.echo, request("\(index)")).id == "\(index)")
            clients.append(client)
        }
        for client in clients { await client.close() }
        try await adminServer.stop()
    }

    /// A connection that sends nothing while no call of it runs is closed after the
    /// idle timeout, and gives its place back; one with a quiet stream running stays.
    @Test func idleConnectionsAreClosedButQuietStreamsStay() async throws {
        // Long enough for a loaded machine to connect and send its first frame
        // before it passes; a connection that sent nothing at all is closed.
        let server = try await TestServer.start {
            $0.idleTimeout = .seconds(2)
            $0.maxTCPConnections = 1
        }
        let idle = try RawConnection(server.tcp)
        #expect(try await idle.isClosedByPeer())
        try await eventually("the idle connection's place given back") { server.server.openConnections(.tcp) == 0 }

        let watcher = try await RPCClient.connect(to: server.unix)
        let stream = try watcher.serverStream(TestMethod.ticks, request("100000"))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() != nil)
        // The client now sends nothing for well past the idle timeout.
        try await Task.sleep(for: .seconds(4))
        #expect(try await iterator.next() != nil)
        #expect(server.server.openConnections(.unix) == 1)
        await watcher.close()
        try await server.stop()
    }

    // MARK: Deadlines, cancellation, disconnects

    @Test func deadlineExceededCancelsTheHandler() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.unix)
        // A deadline long enough for the handler to be running when it passes, even on a
        // machine loaded by parallel builds.
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.unary(TestMethod.slow, request("60000"), timeout: .seconds(5))
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.errorCode == "DEADLINE_EXCEEDED")
        #expect(server.probe.started.load(ordering: .relaxed) == 1)
        try await eventually("handler cancelled") { server.probe.cancelled.load(ordering: .relaxed) == 1 }
        // The connection still serves calls.
        #expect(try await client.unary(TestMethod.echo, request("after")).id == "after")
        await client.close()
        try await server.stop()
    }

    @Test func cancellingAStreamStopsTheHandler() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.tcp)
        let consumer = Task {
            var seen = 0
            for try await _ in try client.serverStream(TestMethod.ticks, request("")) {
                seen += 1
            }
            return seen
        }
        try await eventually("stream running") { server.probe.activeStreams.load(ordering: .relaxed) == 1 }
        consumer.cancel()
        _ = try? await consumer.value
        try await eventually("handler stopped") { server.probe.activeStreams.load(ordering: .relaxed) == 0 }
        #expect(server.probe.cancelled.load(ordering: .relaxed) == 1)
        await client.close()
        try await server.stop()
    }

    @Test func streamEndsWithStreamEndOK() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.unix)
        var ticks: [UInt32] = []
        for try await reply in try client.serverStream(TestMethod.ticks, request("5")) {
            ticks.append(reply.attempts)
        }
        #expect(ticks == [0, 1, 2, 3, 4])
        await client.close()
        try await server.stop()
    }

    @Test func cancelFrameOnAUnaryCallAnswersCancelled() async throws {
        let server = try await TestServer.start()
        let socket = try RawConnection( server.unix)
        try socket.send(try requestEnvelope(stream: 1, method: TestMethod.slow, id: "10000"))
        var cancel = Envelope()
        cancel.streamID = 1
        cancel.type = .cancel
        try await eventually("call started") { server.probe.started.load(ordering: .relaxed) == 1 }
        try socket.send(cancel)
        let answer = try #require(try await socket.receive())
        #expect(answer.streamID == 1)
        #expect(answer.status.code == .cancelled)
        try await eventually("handler cancelled") { server.probe.cancelled.load(ordering: .relaxed) == 1 }
        try await server.stop()
    }

    @Test func clientDisconnectingMidRequestLeaksNothing() async throws {
        let server = try await TestServer.start()
        do {
            let socket = try RawConnection( server.unix)
            try socket.send(try requestEnvelope(stream: 1, method: TestMethod.slow, id: "10000"))
            try await eventually("call started") { server.probe.started.load(ordering: .relaxed) == 1 }
        }  // socket closed here
        try await eventually("handler cancelled") { server.probe.cancelled.load(ordering: .relaxed) == 1 }
        try await eventually("connection released") { server.server.connectionCount == 0 }
        try await server.stop()
    }

    // MARK: Identity and access

    @Test func handlerSeesPeerCredentialsFromSOPeercred() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.unix)
        let reply = try await client.unary(TestMethod.peer, request(""))
        #expect(reply.namespace == "unix")
        #expect(reply.attempts == getuid())
        #expect(reply.updatedAtMs == Int64(getgid()))
        #expect(reply.createdAtMs == Int64(getpid()))
        #expect(reply.name == "uid:\(getuid())")
        await client.close()
        try await server.stop()
    }

    @Test func tcpNeedsTheBearerTokenWhenConfigured() async throws {
        let server = try await TestServer.start { $0.tcp?.tokens = ReloadableBearerTokens(BearerTokens(["first-secret", "second-secret"])) }
        let anonymous = try await RPCClient.connect(to: server.tcp)
        let missing = await #expect(throws: RPCError.self) {
            _ = try await anonymous.unary(TestMethod.echo, request(""))
        }
        #expect(missing?.code == .unauthenticated)
        #expect(missing?.errorCode == "UNAUTHENTICATED")
        let wrong = await #expect(throws: RPCError.self) {
            _ = try await anonymous.unary(TestMethod.echo, request(""), metadata: ["authorization": "Bearer second-secreT"])
        }
        #expect(wrong?.code == .unauthenticated)
        await anonymous.close()

        let authorized = try await RPCClient.connect(to: server.tcp, metadata: ["authorization": "Bearer second-secret"])
        let reply = try await authorized.unary(TestMethod.peer, request(""))
        #expect(reply.name == "token:2")
        #expect(reply.namespace == "tcp")
        await authorized.close()

        // The Unix socket identifies callers by uid and needs no token.
        let local = try await RPCClient.connect(to: server.unix)
        #expect(try await local.unary(TestMethod.echo, request("u")).id == "u")
        await local.close()
        try await server.stop()
    }

    @Test func constantTimeComparisonMatchesOnlyEqualTokens() {
        #expect(BearerTokens.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!BearerTokens.constantTimeEquals(Array("abd".utf8), Array("abc".utf8)))
        #expect(!BearerTokens.constantTimeEquals(Array("ab".utf8), Array("abc".utf8)))
        #expect(!BearerTokens.constantTimeEquals(Array("abcd".utf8), Array("abc".utf8)))
        #expect(!BearerTokens.constantTimeEquals([], Array("abc".utf8)))
        #expect(BearerTokens(["t"]).match(authorization: "t") == nil)
    }

    /// A token file's lines are NAME TOKEN (the caller is token:NAME) or TOKEN
    /// (token:N, counting tokens); one parser serves the daemon's listeners and storectl.
    @Test func tokenFileLinesNameTheirCallers() throws {
        let tokens = try BearerTokens(parsing: "# comment\nci   s3cret-ci\n\n  plain-token\ndeploy\ts3cret-deploy\n", path: "/etc/t")
        #expect(tokens.tokens.map(\.name) == ["ci", "2", "deploy"])
        #expect(tokens.match(authorization: "Bearer s3cret-ci") == "ci")
        #expect(tokens.match(authorization: "Bearer plain-token") == "2")
        #expect(tokens.match(authorization: "Bearer s3cret-deploy") == "deploy")
        #expect(tokens.match(authorization: "Bearer ci") == nil)
        // A file written on Windows reads the same.
        let crlf = try BearerTokens(parsing: "ci s3cret-ci\r\nops s3cret-ops\r\n", path: "/etc/t")
        #expect(crlf.tokens == [.init(name: "ci", secret: "s3cret-ci"), .init(name: "ops", secret: "s3cret-ops")])
    }

    @Test func tokenFileMistakesNameTheLine() {
        func problem(_ text: String) -> String {
            do {
                _ = try BearerTokens(parsing: text, path: "/etc/t")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem("ci one\nci two\n") == "/etc/t:2: the name token:ci is already used on line 1; give each token its own name")
        #expect(problem("ci same\n# x\nops same\n") == "/etc/t:3: this token is already on line 1; give each caller its own token")
        #expect(problem("same\nsame\n") == "/etc/t:2: this token is already on line 1; give each caller its own token")
        #expect(problem("a b c\n") == "/etc/t:1: a line holds NAME TOKEN or just TOKEN, and this one has 3 words")
        #expect(problem("7up secret\n").hasPrefix("/etc/t:1: \"7up\" is not a token name; a name starts with a letter"))
        #expect(problem("# nothing\n") == "token file /etc/t holds no token")
    }

    // MARK: Socket file and shutdown

    @Test func socketFileHasItsModeAndParentDirectoryIsCreated0750() async throws {
        let server = try await TestServer.start()
        var info = stat()
        #expect(stat(server.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(stat(server.directory + "/run", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o750)
        try await server.stop()
    }

    @Test func staleSocketIsReplacedButALiveOneRefusesASecondServer() async throws {
        let directory = try TestServer.makeDirectory()
        let path = directory + "/run/test.sock"
        // A stale socket: bound, then abandoned without removing the file.
        try UnixSocketFile.makeDirectories(directory + "/run", mode: 0o750)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))

        let server = try await TestServer.start(directory: directory)
        let client = try await RPCClient.connect(to: server.unix)
        #expect(try await client.unary(TestMethod.echo, request("live")).id == "live")

        await #expect {
            _ = try await TestServer.start(directory: directory)
        } throws: { error in
            "\(error)".contains("another daemon is already listening on \(path)")
        }
        // The refused second server did not disturb the first.
        #expect(try await client.unary(TestMethod.echo, request("still")).id == "still")
        await client.close()
        try await server.stop()
    }

    @Test func pathThatIsNotASocketIsNeverReplaced() async throws {
        let directory = try TestServer.makeDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/run", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/run/test.sock", contents: Data("keep me".utf8))
        await #expect {
            _ = try await TestServer.start(directory: directory)
        } throws: { error in
            "\(error)".contains("exists and is not a socket")
        }
        #expect(FileManager.default.contents(atPath: directory + "/run/test.sock") == Data("keep me".utf8))
    }

    @Test func gracefulShutdownFinishesInFlightCallAndRemovesTheSocket() async throws {
        let server = try await TestServer.start()
        let client = try await RPCClient.connect(to: server.unix)
        let inFlight = Task { try await client.unary(TestMethod.slow, request("300")) }
        try await eventually("call started") { server.probe.started.load(ordering: .relaxed) == 1 }
        server.server.shutdown()
        let reply = try await inFlight.value
        #expect(reply.id == "300")
        try await server.runTask.value
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
        #expect(server.probe.cancelled.load(ordering: .relaxed) == 0)
        await #expect(throws: RPCError.self) {
            _ = try await RPCClient.connect(to: server.unix)
        }
        await client.close()
    }

    @Test func shutdownCancelsCallsThatOutliveTheGracePeriod() async throws {
        let server = try await TestServer.start { $0.shutdownGracePeriod = .milliseconds(100) }
        let client = try await RPCClient.connect(to: server.tcp)
        let inFlight = Task { try await client.unary(TestMethod.slow, request("60000")) }
        try await eventually("call started") { server.probe.started.load(ordering: .relaxed) == 1 }
        server.server.shutdown()
        try await server.runTask.value
        let error = await #expect(throws: RPCError.self) { _ = try await inFlight.value }
        #expect(error?.code == .unavailable)
        #expect(server.probe.cancelled.load(ordering: .relaxed) == 1)
        await client.close()
    }
}
