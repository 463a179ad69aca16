import Autodiff
import DataIO
import Tensor
import TextEncoder
import XCTest

/// Outputs of small random transformers 5.24.0 CLIP text models (Fixtures/, see textencoder_clip.py) within 1e-4.
final class TransformersParityTests: XCTestCase {
    let tol: Float = 1e-4

    /// Compares every output stored for `name`: last/pooled/hidden states/penultimate/clip_skip1/text_embeds.
    func check(_ model: CLIPTextModel, _ name: String, expectedEnds: [Int]? = nil) throws {
        let io = try Fixtures.io()
        let input = try Fixtures.input(io, name)
        let out = GradMode.noGrad { model(input, outputHiddenStates: true) }
        assertClose(out.lastHiddenState.value, try io.tensor("\(name).last_hidden_state"), tol, "\(name) last_hidden_state")
        assertClose(out.pooledOutput.value, try io.tensor("\(name).pooler_output"), tol, "\(name) pooler_output")
        if let expectedEnds { XCTAssertEqual(out.endTokenIndices, expectedEnds, "\(name) pooled positions") }
        XCTAssertEqual(out.hiddenStates.count, model.layerCount + 1)
        var sawHidden = false
        for (i, h) in out.hiddenStates.enumerated() where io.contains("\(name).hidden_states.\(i)") {
            assertClose(h.value, try io.tensor("\(name).hidden_states.\(i)"), tol, "\(name) hidden_states[\(i)]")
            sawHidden = true
        }
        let penultimate = GradMode.noGrad { model.hiddenState(input, index: -2) }
        let penultimateRef = io.contains("\(name).penultimate") ? try io.tensor("\(name).penultimate")
                                                                : try io.tensor("\(name).hidden_states.\(model.layerCount - 1)")
        XCTAssertTrue(sawHidden || io.contains("\(name).penultimate"))
        assertClose(penultimate.value, penultimateRef, tol, "\(name) penultimate hidden state")
        let skip1 = GradMode.noGrad { model.promptEmbeddings(input, clipSkip: 1) }
        assertClose(skip1.value, try io.tensor("\(name).clip_skip1"), tol, "\(name) clip_skip=1 embeddings")
        let plain = GradMode.noGrad { model.promptEmbeddings(input) }
        // promptEmbeddings(clipSkip: nil) is the last hidden state of the same no-grad forward: the same bits.
        XCTAssertEqual(plain.value.scalars, out.lastHiddenState.value.scalars, "\(name) promptEmbeddings(clipSkip: nil)")
        if io.contains("\(name).text_embeds") {
            let te = try XCTUnwrap(out.textEmbeds, "\(name): model has no projection")
            assertClose(te.value, try io.tensor("\(name).text_embeds"), tol, "\(name) text_embeds")
        } else {
            XCTAssertNil(out.textEmbeds)
        }
    }

    /// quick_gelu, legacy eos_token_id 2 (argmax of ids: the first 999 in row 0, padded with 999), SD-folder keys
    /// with the old position_ids buffer, 77 tokens.
    func testQuickGeluLegacyPooling() throws {
        let model = try Fixtures.model("quick")
        XCTAssertEqual(model.activation, .quickGelu)
        XCTAssertEqual(model.pooling, .highestTokenID)
        try check(model, "quick", expectedEnds: [10, 21])
    }

    /// The same model with a right-padding attention mask (padding mask combined with the causal mask).
    func testPaddingMask() throws {
        let model = try Fixtures.model("quick")
        try check(model, "quick_masked", expectedEnds: [10, 21])
        // The mask changes the padded positions only: the text positions cannot see padding under the causal mask.
        let io = try Fixtures.io()
        let masked = try io.tensor("quick_masked.last_hidden_state"), plain = try io.tensor("quick.last_hidden_state")
        XCTAssertGreaterThan(maxAbsDiff(masked, plain), 1e-2, "the fixture mask must matter")
    }

    /// gelu, eos_token_id 3 (first occurrence), transformers 5 key layout (no `text_model.` prefix).
    func testGeluFirstEndToken() throws {
        let model = try Fixtures.model("gelu")
        XCTAssertEqual(model.activation, .gelu)
        XCTAssertEqual(model.pooling, .firstToken(3))
        try check(model, "gelu", expectedEnds: [6, 9])
        try check(model, "gelu_masked", expectedEnds: [6, 9])
    }

    /// Left padding (queries that see no key: zero attention, as sdpa) and a row without the end token (pools at 0).
    func testLeftPaddingAndMissingEndToken() throws {
        try check(try Fixtures.model("gelu"), "gelu_leftpad", expectedEnds: [10, 0])
    }

    /// CLIPTextModelWithProjection (`text_projection.weight`, text_embeds).
    func testWithProjection() throws {
        let model = try Fixtures.model("proj")
        XCTAssertNotNil(model.textProjection)
        XCTAssertEqual(model.layerCount, 3)
        try check(model, "proj")
    }
}
