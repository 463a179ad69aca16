// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "AdapterTraining",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "AdapterTraining", targets: ["AdapterTraining"]),
        // Small random model folders for the tests of this package and of Evaluation.
        .library(name: "TinyModels", targets: ["TinyModels"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
        .package(path: "../RunLoop"),
        .package(path: "../Tokenizer"),
        .package(path: "../TextEncoder"),
        .package(path: "../Diffusion"),
        .package(path: "../ShapesWorld"),
        .package(path: "../DiscriminativeAdapter"),
        .package(path: "../Pipeline"),
    ],
    targets: [
        .target(name: "AdapterTraining", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "RunLoop", package: "RunLoop"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
            .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
            .product(name: "Pipeline", package: "Pipeline"),
        ]),
        .target(name: "TinyModels", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
        ]),
        .testTarget(name: "AdapterTrainingTests", dependencies: [
            "AdapterTraining",
            "TinyModels",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
            .product(name: "DiscriminativeAdapter", package: "DiscriminativeAdapter"),
            .product(name: "Pipeline", package: "Pipeline"),
        ]),
    ]
)
