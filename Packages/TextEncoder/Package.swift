// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "TextEncoder",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "TextEncoder", targets: ["TextEncoder"]),
        .executable(name: "bench-textencoder", targets: ["bench-textencoder"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
        .package(path: "../Tokenizer"),
    ],
    targets: [
        .target(name: "TextEncoder", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
        ]),
        .executableTarget(name: "bench-textencoder", dependencies: [
            "TextEncoder",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
        ]),
        .testTarget(name: "TextEncoderTests", dependencies: [
            "TextEncoder",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
        ], resources: [.copy("Fixtures")]),
    ]
)
