import DataIO
import Diffusion
import Foundation
import Tensor

/// Writing generated images: one PNG per image and a grid.
public enum ImageOutput {
    /// Writes each image of `images` [N, C, H, W] in [-1, 1] as `<name>.png` into `folder` (created if needed).
    /// Returns the file URLs.
    @discardableResult
    public static func writePNGs(_ images: Tensor, names: [String], to folder: URL) throws -> [URL] {
        guard images.rank == 4, images.shape[0] == names.count else {
            throw PipelineError("images", "\(names.count) names for a batch of shape \(images.shape)")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try RasterImage.images(batch: images).enumerated().map { i, image in
            let url = folder.appendingPathComponent(names[i] + ".png")
            try PNG.write(image, to: url)
            return url
        }
    }

    /// A grid PNG of `images` [N, C, H, W] in [-1, 1], `columns` wide.
    public static func writeGrid(_ images: Tensor, columns: Int, to url: URL, margin: Int = 2) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNG.write(try ImageGrid.make(batch: images, columns: max(1, columns), margin: margin), to: url)
    }

    /// `text` reduced to a safe file-name stem (letters, digits, `-`; at most `maxLength` characters).
    public static func slug(_ text: String, maxLength: Int = 48) -> String {
        var out = ""
        var dash = false
        for ch in text.lowercased() {
            if ch.isLetter && ch.isASCII || ch.isNumber && ch.isASCII {
                out.append(ch)
                dash = false
            } else if !dash && !out.isEmpty {
                out.append("-")
                dash = true
            }
            if out.count >= maxLength { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "prompt" : out
    }
}
