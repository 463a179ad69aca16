/// A model folder could not be loaded: the message names the folder, the component (`tokenizer`, `text_encoder`,
/// `unet`, `vae`, `scheduler`, `model_index.json`) and the file or key at fault.
public struct ModelLoadError: Error, CustomStringConvertible {
    public let folder: String
    public let component: String
    public let message: String

    public init(folder: String, component: String, _ message: String) {
        self.folder = folder
        self.component = component
        self.message = message
    }

    public var description: String { "model folder \(folder): \(component): \(message)" }
}
