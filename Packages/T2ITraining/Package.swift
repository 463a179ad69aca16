// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "T2ITraining",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "T2ITraining", targets: ["T2ITraining"]),
        .executable(name: "bench-t2i", targets: ["bench-t2i"]),
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
        .package(path: "../Pipeline"),
        .package(path: "../ShapesWorld"),
    ],
    targets: [
        .target(name: "T2ITraining", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "RunLoop", package: "RunLoop"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "Pipeline", package: "Pipeline"),
            .product(name: "ShapesWorld", package: "ShapesWorld"),
        ]),
        .executableTarget(name: "bench-t2i", dependencies: [
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
