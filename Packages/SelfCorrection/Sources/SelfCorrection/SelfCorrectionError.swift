/// A bad self-correction setting or input, naming the setting at fault.
public struct SelfCorrectionError: Error, CustomStringConvertible, Equatable {
    public let setting: String
    public let message: String

    public init(_ setting: String, _ message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String { "self-correction \(setting): \(message)" }
}
