import Autodiff
import DataIO
import Diffusion
import Foundation
import NN
import Tensor
import XCTest

final class VAETests: XCTestCase {
    typealias F = UNetVAEFixtures

    private func tinyVAE() throws -> AutoencoderKL {
        try AutoencoderKL.load(from: ComponentFolder(try F.url("tiny-vae")))
    }

    /// Encode (mean, log-variance, a generator draw) and decode (with its input gradient) match diffusers.
    func testTinyVAEMatchesDiffusers() throws {
        let vae = try tinyVAE()
        XCTAssertEqual(vae.downscaleFactor, 2)
        XCTAssertEqual(vae.scalingFactor, 0.18215)
        let posterior = GradMode.noGrad { vae.encode(Variable(try! F.tensor("vae.image"))) }
        F.assertClose(posterior.mean.value, try F.tensor("vae.mean"), abs: 1e-4, "mean")
        F.assertClose(posterior.logvar.value, try F.tensor("vae.logvar"), abs: 1e-4, "logvar")
        var g = TorchGenerator(seed: 7)
        let drawn = posterior.sample(generator: &g)
        F.assertClose(drawn.value, try F.tensor("vae.posterior_sample"), abs: 1e-4, "posterior sample")
        XCTAssertTrue(posterior.mode() === posterior.mean, "mode is the mean")

        let z = Variable(try F.tensor("vae.latent"), requiresGrad: true)
        vae.store.freeze()
        let decoded = vae.decode(z)
        F.assertClose(decoded.value, try F.tensor("vae.decoded"), abs: 1e-4, "decoded")
        try (decoded * F.tensor("vae.upstream")).sum().backward()
        F.assertRelativelyClose(z.grad, try F.tensor("vae.grad.latent"), rel: 1e-3, "d decoded / d latent")
    }

    /// The KL term is diffusers' 0.5 · Σ(μ² + σ² − 1 − log σ²), checked against the fixture's mean and log-variance.
    func testKLDivergence() throws {
        let moments = Variable(Tensor.concat([try F.tensor("vae.mean"), try F.tensor("vae.logvar")], axis: 1))
        let d = DiagonalGaussianDistribution(moments: moments)
        let mean = try F.tensor("vae.mean"), logvar = try F.tensor("vae.logvar")
        let per = mean.shape[1] * mean.shape[2] * mean.shape[3]
        for b in 0..<mean.shape[0] {
            var expected = 0.0
            for i in 0..<per {
                let m = Double(mean.scalars[b * per + i]), lv = Double(logvar.scalars[b * per + i])
                expected += 0.5 * (m * m + Foundation.exp(lv) - 1 - lv)
            }
            XCTAssertEqual(Double(d.kl().value.scalars[b]), expected, accuracy: 1e-3 * Swift.max(1, Swift.abs(expected)))
        }
    }

    /// Scaled latents: images(fromLatents:) decodes latents / scaling_factor, latents(ofImages:) scales a draw.
    func testLatentScaling() throws {
        let vae = try tinyVAE()
        let latent = try F.tensor("vae.latent")
        let viaScaled = GradMode.noGrad { vae.images(fromLatents: Variable(latent * vae.scalingFactor)) }
        F.assertClose(viaScaled.value, try F.tensor("vae.decoded"), abs: 1e-4, "images(fromLatents:)")
        var g = TorchGenerator(seed: 7)
        let scaled = GradMode.noGrad { vae.latents(ofImages: Variable(try! F.tensor("vae.image")), generator: &g) }
        F.assertClose(scaled.value, try F.tensor("vae.posterior_sample") * vae.scalingFactor, abs: 1e-4, "latents(ofImages:)")
    }

    /// The real SD VAE config builds with diffusers' parameter count (83,653,863), without allocating values.
    func testRealStableDiffusionVAEParameterCount() throws {
        let config = try ConfigFile.read(AutoencoderKLConfig.self, from: try F.url("sd-configs/sd15-vae.json"))
        let vae = try AutoencoderKL(config: config, store: ParameterStore(initialization: .uninitialized))
        XCTAssertEqual(vae.store.parameterCount(), 83_653_863)
        XCTAssertEqual(vae.downscaleFactor, 8)
        XCTAssertEqual(vae.scalingFactor, 0.18215)
    }

    /// A model folder without `vae/` is pixel-space: the identity autoencoder; with one, the AutoencoderKL.
    func testIdentityAutoencoderForFoldersWithoutVAE() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("diffusion-vae-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pixel = try AutoencoderKL.loadOrIdentity(from: ModelFolder(dir))
        XCTAssertTrue(pixel is IdentityAutoencoder)
        XCTAssertEqual(pixel.downscaleFactor, 1)
        XCTAssertEqual(pixel.latentChannels, 3)
        var values = TorchGenerator(seed: 1234)
        let x = Tensor.rand([2, 3, 4, 4], generator: &values) * 2 - 1
        var g = TorchGenerator(seed: 1)
        let z = pixel.latents(ofImages: Variable(x), generator: &g)
        XCTAssertEqual(z.value.scalars, x.scalars)
        var fresh = TorchGenerator(seed: 1)
        XCTAssertEqual(g.random64(), fresh.random64(), "a point mass draws nothing")
        XCTAssertEqual(pixel.images(fromLatents: z).value.scalars, x.scalars)
        XCTAssertEqual(pixel.encode(Variable(x)).kl().value.scalars, [0, 0])

        try FileManager.default.copyItem(at: try F.url("tiny-vae"), to: dir.appendingPathComponent("vae"))
        XCTAssertTrue(try AutoencoderKL.loadOrIdentity(from: ModelFolder(dir)) is AutoencoderKL)
    }

    func testBadVAEInputsAndConfigs() throws {
        let vae = try tinyVAE()
        XCTAssertThrowsError(try vae.validateLatents(shape: [1, 3, 8, 8])) { e in
            XCTAssertTrue("\(e)".contains("vae") && "\(e)".contains("[1, 3, 8, 8]") && "\(e)".contains("[B, 4, H, W]"), "\(e)")
        }
        XCTAssertThrowsError(try vae.validateImages(shape: [1, 4, 16, 16])) { e in
            XCTAssertTrue("\(e)".contains("image shape [1, 4, 16, 16]"), "\(e)")
        }
        var c = vae.config
        c.downBlockTypes[0] = "AttnDownEncoderBlock2D"
        XCTAssertThrowsError(try AutoencoderKL(config: c, store: ParameterStore(initialization: .uninitialized))) { e in
            XCTAssertTrue("\(e)".contains("vae") && "\(e)".contains("AttnDownEncoderBlock2D") && "\(e)".contains("down_block_types[0]"), "\(e)")
        }
        // A weights file of another architecture: every mismatch is listed, naming the component.
        let folder = try F.scratchCopy("tiny-vae")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let url = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        var weights = try SafetensorsFile(contentsOf: url).allTensors()
        weights["quant_conv.weight"] = nil
        try SafetensorsFile.write(weights, to: url)
        XCTAssertThrowsError(try AutoencoderKL.load(from: ComponentFolder(folder))) { e in
            XCTAssertTrue("\(e)".contains("vae") && "\(e)".contains("missing") && "\(e)".contains("quant_conv.weight"), "\(e)")
        }
    }
}
