import StoreCore
import StoreRPC

extension PlatformError: RPCStatusConvertible {
    public var rpcStatus: RPCStatus {
        RPCStatus(
            code: code.grpcCode,
            errorCode: code.rawValue,
            message: message,
            retryAfterMilliseconds: retryAfterMilliseconds
        )
    }
}
