// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "RunLoop",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RunLoop", targets: ["RunLoop"]),
    ],
    dependencies: [
        .package(path: "../DataIO"),
    ],
    targets: [
        .target(name: "RunLoop", dependencies: [
            .product(name: "DataIO", package: "DataIO"),
        ]),
        .testTarget(name: "RunLoopTests", dependencies: [
            "RunLoop",
            .product(name: "DataIO", package: "DataIO"),
        ]),
    ]
)
