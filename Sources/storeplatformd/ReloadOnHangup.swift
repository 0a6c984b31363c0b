import Logging
import ServiceLifecycle
import StoreRPC
import UnixSignals

/// On SIGHUP, reads the TLS files and the token file again: new connections
/// get the new material, open ones keep what they started with. A reload that
/// fails logs why and keeps the previous material; each part reloads on its own.
struct ReloadOnHangup: Service {
    let tls: ServerTLS?
    let tokens: ReloadableBearerTokens?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in hangups.cancelOnGracefulShutdown() {
                await reload()
            }
        } onGracefulShutdown: {}
    }

    func reload() async {
        if tls == nil && tokens == nil {
            logger.notice("SIGHUP: nothing to reload (no --tls-cert, no --token-file)")
        }
        if let tls {
            do {
                let (before, after) = try await tls.reload()
                logger.notice(
                    "SIGHUP: TLS material reloaded; new connections use it",
                    metadata: ["was": "\(before)", "now": "\(after)", "changed": "\(before != after)"]
                )
            } catch {
                logger.error("SIGHUP: TLS reload failed, keeping the previous certificate and key: \(error)")
            }
        }
        if let tokens {
            do {
                let (before, after) = try await tokens.reload()
                logger.notice(
                    "SIGHUP: token file reloaded; new connections use it",
                    metadata: ["file": "\(tokens.path ?? "-")", "tokens": "\(after)", "was": "\(before)"]
                )
            } catch {
                logger.error("SIGHUP: token file reload failed, keeping the previous tokens: \(error)")
            }
        }
    }
}
