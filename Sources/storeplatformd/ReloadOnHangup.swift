import ControlPlane
import Logging
import NIOPosix
import ServiceLifecycle
import StoreRPC
import UnixSignals

/// On SIGHUP, reads the TLS files, the token file and the access file again: new
/// connections get the new TLS material and tokens, open ones keep what they
/// started with; the new roles decide every call from then on. A reload that
/// fails logs why and keeps the previous material; each part reloads on its own.
struct ReloadOnHangup: Service {
    let tls: ServerTLS?
    let tokens: ReloadableBearerTokens?
    /// The access file and the control plane whose policy it replaces.
    let access: (file: String, controlPlane: ControlPlane)?
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
        if tls == nil && tokens == nil && access == nil {
            logger.notice("SIGHUP: nothing to reload (no --tls-cert, no --token-file, no --access-file)")
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
        if let (file, controlPlane) = access {
            let adminUIDs = controlPlane.access.adminUIDs
            do {
                let policy = try await NIOThreadPool.singleton.runIfActive {
                    try DaemonCommand.loadAccessPolicy(file: file, adminUIDs: adminUIDs)
                }
                controlPlane.replaceAccess(policy)
                logger.notice("SIGHUP: access file reloaded; every call from now on follows it", metadata: ["file": "\(file)"])
            } catch {
                logger.error("SIGHUP: access file reload failed, keeping the previous roles: \(error)")
            }
        }
    }
}
