// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "T2ITraining",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "T2ITraining", targets: ["T2ITraining"]),
        .executable(name: "t2i-bench", targets: ["t2i-bench"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
        .package(path: "../Tokenizer"),
        .package(path: "../TextEncoder"),
        .package(path: "../Diffusion"),
        .package(path: "../ShapesWorld"),
    ],
    targets: [
        .target(name: "T2ITraining", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
        ]),
        .executableTarget(name: "t2i-bench", dependencies: [
            "T2ITraining",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "DataIO", package: "DataIO"),
        ]),
        .testTarget(name: "T2ITrainingTests", dependencies: [
            "T2ITraining",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
            .product(name: "NN", package: "NN"),
            .product(name: "Autodiff", package: "Autodiff"),
        ]),
    ]
)
