// swift-tools-version:5.9
import PackageDescription

// DPT's evaluations: the discriminative evaluation of an adapter (ITM and REC), the probing sweep and its heatmap,
// and the generation evaluation of the base model and every DPT variant (suites, judging, grids, reports, paired
// bootstrap).
let package = Package(
    name: "Evaluation",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Evaluation", targets: ["Evaluation"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../DataIO"),
        .package(path: "../Diffusion"),
        .package(path: "../ShapesWorld"),
        .package(path: "../DiscriminativeAdapter"),
        .package(path: "../Pipeline"),
        .package(path: "../SelfCorrection"),
        .package(path: "../AdapterTraining"),
    ],
    targets: [
        .target(name: "Evaluation", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
            .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
            .product(name: "Pipeline", package: "Pipeline"),
            .product(name: "SelfCorrection", package: "SelfCorrection"),
            .product(name: "AdapterTraining", package: "AdapterTraining"),
        ]),
        .testTarget(name: "EvaluationTests", dependencies: [
            "Evaluation",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
            .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
            .product(name: "Pipeline", package: "Pipeline"),
            .product(name: "SelfCorrection", package: "SelfCorrection"),
            .product(name: "AdapterTraining", package: "AdapterTraining"),
            .product(name: "TinyModels", package: "AdapterTraining"),
        ]),
    ]
)
