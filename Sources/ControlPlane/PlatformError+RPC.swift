import StoreCore
import StorePlatformEnvelope
import StoreRPC

extension PlatformError: RPCStatusConvertible {
    public var rpcStatus: RPCStatus {
        RPCStatus(
            code: code.grpcCode.wire,
            errorCode: code.rawValue,
            message: message,
            retryAfterMilliseconds: retryAfterMilliseconds
        )
    }
}

extension GRPCCode {
    /// The envelope's code of the same number.
    public var wire: Storeplatform_V1_Code {
        Storeplatform_V1_Code(rawValue: rawValue) ?? .unknown
    }
}
