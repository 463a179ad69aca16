// swift-tools-version:5.9
// The root package: thin executables in Tools/ and end-to-end tests in Tests/.
// Every component is its own package under Packages/; see README.md for the map.
import PackageDescription

let package = Package(
    name: "DPTSwift",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: "Packages/Tensor"),
        .package(path: "Packages/Tokenizer"),
        .package(path: "Packages/ShapesWorld"),
        .package(path: "Packages/DataIO"),
        .package(path: "Packages/Pipeline"),
        .package(path: "Packages/Diffusion"),
        .package(path: "Packages/T2ITraining"),
        .package(path: "Packages/DiscriminativeAdapter"),
        .package(path: "Packages/AdapterTraining"),
        .package(path: "Packages/Evaluation"),
        .package(path: "Packages/SelfCorrection"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // What the tools share: range checks of option values (NaN, infinities, out-of-range integers), --set and
        // --config, model-folder discovery and sampling defaults, and the LoRA / self-correction variant options.
        .target(
            name: "ToolSupport",
            dependencies: [
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "Diffusion", package: "Diffusion"),
                .product(name: "Pipeline", package: "Pipeline"),
                .product(name: "SelfCorrection", package: "SelfCorrection"),
                .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/ToolSupport"
        ),
        .executableTarget(
            name: "tokenize",
            dependencies: ["ToolSupport", .product(name: "Tokenizer", package: "Tokenizer")],
            path: "Tools/Tokenize"
        ),
        .executableTarget(
            name: "demo",
            dependencies: [
                "ToolSupport",
                .product(name: "Tensor", package: "Tensor"),
                .product(name: "T2ITraining", package: "T2ITraining"),
                .product(name: "ShapesWorld", package: "ShapesWorld"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Demo"
        ),
        .executableTarget(
            name: "bench-ops",
            dependencies: ["ToolSupport", .product(name: "Tensor", package: "Tensor")],
            path: "Tools/BenchOps"
        ),
        .executableTarget(
            name: "shapesworld",
            dependencies: [
                "ToolSupport",
                .product(name: "ShapesWorld", package: "ShapesWorld"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/ShapesWorldTool"
        ),
        .executableTarget(
            name: "sample",
            dependencies: [
                "ToolSupport",
                .product(name: "Pipeline", package: "Pipeline"),
                .product(name: "Diffusion", package: "Diffusion"),
                .product(name: "SelfCorrection", package: "SelfCorrection"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Sample"
        ),
        .executableTarget(
            name: "train-t2i",
            dependencies: [
                "ToolSupport",
                .product(name: "T2ITraining", package: "T2ITraining"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/TrainT2I"
        ),
        .executableTarget(
            name: "t2i-evaluate",
            dependencies: [
                "ToolSupport",
                .product(name: "T2ITraining", package: "T2ITraining"),
                .product(name: "Evaluation", package: "Evaluation"),
                .product(name: "Pipeline", package: "Pipeline"),
                .product(name: "ShapesWorld", package: "ShapesWorld"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/T2IEvaluate"
        ),
        .executableTarget(
            name: "train-adapter",
            dependencies: [
                "ToolSupport",
                .product(name: "AdapterTraining", package: "AdapterTraining"),
                .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/TrainAdapter"
        ),
        .executableTarget(
            name: "evaluate",
            dependencies: [
                "ToolSupport",
                .product(name: "AdapterTraining", package: "AdapterTraining"),
                .product(name: "Evaluation", package: "Evaluation"),
                .product(name: "Pipeline", package: "Pipeline"),
                .product(name: "SelfCorrection", package: "SelfCorrection"),
                .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
                .product(name: "ShapesWorld", package: "ShapesWorld"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Evaluate"
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ToolSupport",
                .product(name: "T2ITraining", package: "T2ITraining"),
                .product(name: "TinyModels", package: "AdapterTraining"),
                .product(name: "Pipeline", package: "Pipeline"),
                .product(name: "SelfCorrection", package: "SelfCorrection"),
                .product(name: "Tokenizer", package: "Tokenizer"),
                .product(name: "Diffusion", package: "Diffusion"),
                .product(name: "ShapesWorld", package: "ShapesWorld"),
                .product(name: "DataIO", package: "DataIO"),
                .product(name: "Tensor", package: "Tensor"),
            ],
            path: "Tests/EndToEndTests",
            exclude: ["Fixtures"]
        ),
    ]
)
