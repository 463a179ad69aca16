// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "ShapesWorld",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ShapesWorld", targets: ["ShapesWorld"]),
        .executable(name: "bench-shapesworld", targets: ["bench-shapesworld"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
    ],
    targets: [
        .target(
            name: "ShapesWorld",
            dependencies: [.product(name: "Tensor", package: "Tensor")],
            resources: [.copy("Resources")]
        ),
        .executableTarget(name: "bench-shapesworld", dependencies: ["ShapesWorld"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld", .product(name: "Tensor", package: "Tensor")]),
    ]
)
