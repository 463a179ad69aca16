import AdapterTraining
import Autodiff
import DataIO
import Evaluation
import DiscriminativeAdapter
import Foundation
import ShapesWorld
import Tensor
import TinyModels
import XCTest

final class EvaluationTests: XCTestCase {
    override class func tearDown() {
        if let s = TinyModel.shared { try? FileManager.default.removeItem(at: s) }
        TinyModel.shared = nil
    }

    /// The batched evaluation against a per-pair reference: every score recomputed with its own single-row
    /// forward, the 2-way outcomes and REC hits (ShapesWorld's own IoU) counted by hand.
    func testEvaluationMatchesAPerPairReference() throws {
        let model = try ProbeModel(folder: try TinyModel.sharedFolder())
        let ac = try model.adapterConfig(preset: "bundled", taps: ["up1"])
        let dm = try DiscriminativeModel(denoiser: model.unet, adapter: try DiscriminativeAdapter(config: ac, seed: 3))
        let world = model.world(seed: 0)
        let set = try EvaluationSet.make(model: model, world: world, split: .testOOD, count: 5, seed: 1, batchSize: 3)
        XCTAssertEqual(set.chunks.map(\.count), [3, 2])
        let t = 500
        let e = try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: t, schedule: model.schedule)
        XCTAssertEqual(e.overall.text.total, 5)
        XCTAssertEqual(e.byCategory.values.reduce(0) { $0 + $1.text.total }, 5)
        XCTAssertEqual(e.byNegativeKind.values.reduce(0) { $0 + $1.image.total }, 5)

        var text = 0, image = 0, rec = 0, chance = 0.0
        for chunk in set.chunks {
            for s in 0..<chunk.count {
                func score(imageSlot: Int, caption: Int) -> Float {
                    let z = chunk.latents.indexSelect(axis: 0, indices: [s * 3 + imageSlot])
                    let noisy = model.schedule.addNoise(original: z, noise: chunk.noise.indexSelect(axis: 0, indices: [s]), timesteps: [t])
                    return GradMode.noGrad {
                        dm.matchingScores(latents: Variable(noisy), timesteps: [Float(t)],
                                          context: Variable(chunk.captions.context.indexSelect(axis: 0, indices: [s * 3 + caption])),
                                          pooled: Variable(chunk.captions.pooled.indexSelect(axis: 0, indices: [s * 3 + caption]))).value.item()
                    }
                }
                let pos = score(imageSlot: 0, caption: 0)
                if pos > score(imageSlot: 0, caption: 1) { text += 1 }
                if pos > score(imageSlot: 1, caption: 0) { image += 1 }
                let z = chunk.latents.indexSelect(axis: 0, indices: [s * 3])
                let noisy = model.schedule.addNoise(original: z, noise: chunk.noise.indexSelect(axis: 0, indices: [s]), timesteps: [t])
                let out = GradMode.noGrad {
                    dm.forward(latents: Variable(noisy), timesteps: [Float(t)],
                               context: Variable(chunk.expressions.context.indexSelect(axis: 0, indices: [s])))
                }
                // Top query by object probability 1 - p(no object), by hand.
                let logits = out.detr!.classLogits.value.scalars, boxes = out.detr!.boxes.value.scalars
                let nr = out.detr!.classLogits.shape[1], c = out.detr!.classLogits.shape[2]
                var best = 0, bestP = -Double.infinity
                for q in 0..<nr {
                    let row = (0..<c).map { Double(logits[q * c + $0]) }
                    let m = row.max()!
                    let z = row.reduce(0) { $0 + exp($1 - m) }
                    let pObject = 1 - exp(row[c - 1] - m) / z
                    if pObject > bestP { bestP = pObject; best = q }
                }
                let b = (0..<4).map { Double(boxes[best * 4 + $0]) }
                if Box(cx: b[0], cy: b[1], w: b[2], h: b[3]).iou(chunk.batch.expressions[s].box) >= 0.5 { rec += 1 }
                // Chance: the expression's own object is one of n objects (boxes of distinct objects rarely overlap by 0.5).
                let sample = chunk.batch.samples[s]
                XCTAssertEqual(sample.scene.box(chunk.batch.expressions[s].object), chunk.batch.expressions[s].box)
                var right = 0
                for k in 0..<sample.scene.objects.count where sample.scene.box(k).iou(chunk.batch.expressions[s].box) >= 0.5 { right += 1 }
                XCTAssertGreaterThanOrEqual(right, 1)
                chance += Double(right) / Double(sample.scene.objects.count)
            }
        }
        XCTAssertEqual(e.overall.text.successes, text)
        XCTAssertEqual(e.overall.image.successes, image)
        XCTAssertEqual(e.overall.rec.successes, rec)
        XCTAssertEqual(e.recUniformReferentPick, chance / 5, accuracy: 1e-12)
        XCTAssertTrue(e.recUniformReferentPick > 0 && e.recUniformReferentPick <= 1)
        XCTAssertEqual(e.overall.centres.count, 5)
        XCTAssertGreaterThanOrEqual(e.overall.recLoose.successes, e.overall.rec.successes, "IoU 0.3 is the looser test")

        // The set does not depend on the batch size.
        let set1 = try EvaluationSet.make(model: model, world: world, split: .testOOD, count: 5, seed: 1, batchSize: 5)
        let e1 = try DiscriminativeEvaluator.evaluate(model: dm, set: set1, timestep: t, schedule: model.schedule)
        // Batch size changes only float rounding: the same outcomes, centres within rounding.
        XCTAssertEqual([e1.overall.text, e1.overall.image, e1.overall.rec, e1.overall.recLoose],
                       [e.overall.text, e.overall.image, e.overall.rec, e.overall.recLoose])
        for (a, b) in zip(e1.overall.centres.joined(), e.overall.centres.joined()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertEqual(set1.chunks[0].batch.captions, set.chunks.flatMap(\.batch.captions))
        XCTAssertTrue(set1.chunks[0].batch.samples.allSatisfy { $0.split == .testOOD })
        XCTAssertThrowsError(try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: 1000, schedule: model.schedule))

        // Report tables.
        let table = EvaluationReport.overallTable([("adapter", e)])
        XCTAssertTrue(table.contains(String(format: "| uniform referent pick (ignores the expression) | test-ood | | 5 | | | %.1f |", 100 * e.recUniformReferentPick)), table)
        XCTAssertFalse(table.contains("constant mean box"), "no baseline rows without baselines")

        // REC's constant-box baselines, scored on the same referents.
        let baselines = RECBaselines.fit(world: world, count: 30)
        XCTAssertGreaterThanOrEqual(baselines.bestConstantBoxTrainP1, baselines.meanBoxTrainP1)
        let eb = try DiscriminativeEvaluator.evaluate(model: dm, set: set, timestep: t, schedule: model.schedule, baselines: baselines)
        XCTAssertEqual(eb.overall.meanBox.total, 5)
        XCTAssertEqual(eb.overall.bestConstantBox.total, 5)
        let mean = Box(cx: baselines.meanBox[0], cy: baselines.meanBox[1], w: baselines.meanBox[2], h: baselines.meanBox[3])
        XCTAssertEqual(eb.overall.meanBox.successes, set.chunks.flatMap(\.batch.expressions).filter { mean.iou($0.box) >= 0.5 }.count)
        let withBaselines = EvaluationReport.overallTable([("adapter", eb)])
        XCTAssertTrue(withBaselines.contains("| constant mean box (train) | test-ood |") && withBaselines.contains("| best constant box (train) | test-ood |"), withBaselines)
        XCTAssertTrue(EvaluationReport.categoryTable(label: "a", eb).contains("best constant box P@1"))
        XCTAssertTrue(table.contains("test-ood"))
        XCTAssertEqual(EvaluationReport.cell(Proportion(successes: 8, total: 10)), "80.0 [49.0, 94.3]")
    }

    func testSweepWritesTableJSONAndHeatmap() throws {
        let model = try ProbeModel(folder: try TinyModel.sharedFolder())
        var base = ProbeConfig()
        base.batchSize = 1
        base.steps = 1
        base.logEvery = 1
        let out = try TinyModel.temporaryFolder(self, "sweep")
        var sweep = ProbingSweep(base: base, taps: ["mid", "up1"], timesteps: [250, 750], split: .testID, count: 2)
        sweep.evaluationBatchSize = 2
        var lines: [String] = []
        let r = try sweep.run(model: model, output: out, log: { lines.append($0) })
        XCTAssertEqual(r.taps, ["mid", "up1"])
        XCTAssertEqual(r.evaluations.map { $0.map(\.timestep) }, [[250, 750], [250, 750]])
        XCTAssertTrue(r.evaluations.joined().allSatisfy { $0.overall.text.total == 2 })
        let png = try PNG.read(out.appendingPathComponent("heatmap.png"))
        XCTAssertGreaterThan(png.width, 200)
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("sweep.md"), encoding: .utf8).contains("| mid |"))
        let json = try JSONValue.parse(Data(contentsOf: out.appendingPathComponent("sweep.json")))
        XCTAssertEqual(json["cells"]?.arrayValue?.count, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("tap-up1/adapter/config.json").path))
        // A second run reuses the trained adapters and reproduces the numbers.
        let again = try sweep.run(model: model, output: out, log: { lines.append($0) })
        XCTAssertEqual(again.values { $0.text }, r.values { $0.text })
        XCTAssertTrue(lines.contains { $0.contains("trained adapter found") })
        XCTAssertEqual(ProbingSweep.evenTimesteps(5, numTrainTimesteps: 1000), [100, 300, 500, 700, 900])
        // The written sweep.json reads back with the run's counts.
        let cells = try SweepComparison.load(out.appendingPathComponent("sweep.json"))
        XCTAssertEqual(cells.taps, ["mid", "up1"])
        XCTAssertEqual(cells.text.map { $0.map(\.successes) }, r.evaluations.map { $0.map(\.overall.text.successes) })
        XCTAssertEqual(cells.rec.map { $0.map(\.total) }, [[2, 2], [2, 2]])
    }

    func testSweepComparisonIsTrainedMinusControlPerCell() throws {
        let dir = try TinyModel.temporaryFolder(self, "compare")
        func sweep(_ name: String, taps: [String] = ["mid", "up0"], text: [[Int]], skip: Int? = nil) throws -> URL {
            var cells: [JSONValue] = []
            for (i, tap) in taps.enumerated() {
                for (j, t) in [100, 500].enumerated() where skip != i * 2 + j {
                    func p(_ s: Int) -> JSONValue { .object(["successes": .int(s), "total": .int(200)]) }
                    cells.append(.object(["tap": .string(tap), "timestep": .int(t),
                                          "overall": .object(["itm_text": p(text[i][j]), "itm_image": p(100), "rec_p_at_1": p(10 * (i + 1))])]))
                }
            }
            let folder = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let json = JSONValue.object(["taps": .array(taps.map { .string($0) }), "timesteps": .array([.int(100), .int(500)]), "cells": .array(cells)])
            try Data(json.serialized().utf8).write(to: folder.appendingPathComponent("sweep.json"))
            return folder.appendingPathComponent("sweep.json")
        }
        let trained = try SweepComparison.load(try sweep("trained", text: [[180, 150], [120, 100]]))
        let control = try SweepComparison.load(try sweep("control", text: [[100, 100], [100, 110]]))
        let cmp = try SweepComparison(trained: trained, control: control)
        XCTAssertEqual(cmp.markdown.components(separatedBy: "| mid | 90.0 / 50.0, +40.0").count, 2, cmp.markdown)
        XCTAssertTrue(cmp.markdown.contains("50.0 / 55.0, -5.0"), cmp.markdown)
        XCTAssertTrue(cmp.markdown.contains("| up0 | 10.0 / 10.0, +0.0"), cmp.markdown)   // REC: equal in both
        let png = try cmp.figure(title: "T").render()
        XCTAssertGreaterThan(png.width, 200)
        // Sweeps over other taps, a missing cell and a file that is not a sweep are refused, naming the problem.
        let other = try SweepComparison.load(try sweep("other", taps: ["mid", "up1"], text: [[1, 1], [1, 1]]))
        XCTAssertThrowsError(try SweepComparison(trained: trained, control: other)) { XCTAssertTrue("\($0)".contains("taps"), "\($0)") }
        XCTAssertThrowsError(try SweepComparison.load(try sweep("holey", text: [[1, 1], [1, 1]], skip: 3))) {
            XCTAssertTrue("\($0)".contains("3 of 4 cells"), "\($0)")
        }
        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"taps": []}"#.utf8).write(to: bad)
        XCTAssertThrowsError(try SweepComparison.load(bad)) { XCTAssertTrue("\($0)".contains("bad.json"), "\($0)") }
    }

    func testHeatmapCellsCarryTheirColours() throws {
        let values: [[Double]] = [[0.5, 0.75, 1.0], [.nan, 0.6, 0.9]]
        let fig = HeatmapFigure(title: "T", panels: [Heatmap(title: "P", rowLabels: ["down0", "up1"], columnLabels: ["T1", "T2", "T3"], values: values)],
                                notes: ["NOTE"])
        let img = try fig.render()
        // Find the cell colours by scanning a pixel known to lie inside each cell but away from its text: the
        // top-left interior corner. Layout: margin 12, title 16, panel title 14 -> grid top 42; row labels 5 chars.
        let gridLeft = 12 + PixelFontWidth.of("down0") + 6, top = 12 + 16 + 14
        for r in 0..<2 {
            for c in 0..<3 {
                let px = img.pixel(x: gridLeft + c * fig.cellWidth + 2, y: top + r * fig.cellHeight + 2)
                let expected = values[r][c].isFinite ? HeatmapFigure.color((values[r][c] - 0.5) / 0.5) : [200, 200, 200]
                XCTAssertEqual(Array(px.prefix(3)), expected, "cell \(r),\(c)")
            }
        }
        XCTAssertEqual(HeatmapFigure.color(0), [68, 1, 84])
        XCTAssertEqual(HeatmapFigure.color(1), [253, 231, 37])
        XCTAssertEqual(HeatmapFigure.color(-3), [68, 1, 84])
        XCTAssertThrowsError(try HeatmapFigure(panels: [Heatmap(title: "bad", rowLabels: ["a"], columnLabels: ["b"], values: [[1, 2]])]).render())
    }

    /// The baselines' fit on hand-made referents, and the centre statistics.
    func testConstantBoxBaselinesAndCentreStatistics() {
        let a = Box(cx: 0.3, cy: 0.3, w: 0.2, h: 0.2), b = Box(cx: 0.7, cy: 0.7, w: 0.2, h: 0.2)
        // Three referents at a, one at b: the mean box sits between them and hits none; the best box is a.
        let fit = RECBaselines.fit(referents: [a, a, a, b], samples: 4)
        XCTAssertEqual(fit.meanBox[0], 0.4, accuracy: 1e-12)
        XCTAssertEqual(fit.meanBoxTrainP1, 0)
        XCTAssertEqual(fit.bestConstantBoxTrainP1, 0.75)
        XCTAssertGreaterThanOrEqual(Box(cx: fit.bestConstantBox[0], cy: fit.bestConstantBox[1], w: fit.bestConstantBox[2],
                                        h: fit.bestConstantBox[3]).iou(a), 0.5)
        var s = DiscriminativeScores()
        s.centres = [[0.1, 0.2, 0.1, 0.2], [0.5, 0.6, 0.5, 0.6], [0.9, 0.3, 0.9, 0.3]]
        XCTAssertEqual(s.centreCorrelation.x, 1, accuracy: 1e-12)
        XCTAssertEqual(s.centreCorrelation.y, 1, accuracy: 1e-12)
        s.centres = [[0.5, 0.5, 0.1, 0.2], [0.5, 0.5, 0.9, 0.6]]   // one box for every image: collapsed
        XCTAssertTrue(s.centreCorrelation.x.isNaN)
        XCTAssertEqual(s.predictedCentreSpread.x, 0)
    }
}

/// The label width rule of the 5x7 font (6 pixels per character minus one).
enum PixelFontWidth {
    static func of(_ s: String) -> Int { s.count * 6 - 1 }
}
