/// Encodes any `Encodable` into a `JSONValue`, keeping the Swift type of every number: a `Double` stays `.double`
/// (written `1.0`, not `1`), an integer stays `.int`.
///
/// Foundation's `JSONEncoder` writes the double 1.0 as `1`, which Python reads as an int; transformers 5 validates
/// its configs strictly and refuses `"initializer_factor": 1` where it declares a float. Configs written through
/// `ConfigFile` go through this encoder so that Python reads back the types diffusers and transformers wrote.
public struct JSONValueEncoder {
    public var userInfo: [CodingUserInfoKey: Any] = [:]

    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = JSONValueEncoderBox()
        try value.encode(to: JSONValueEncoderImpl(box: root, codingPath: [], userInfo: userInfo))
        guard let v = root.value else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "\(T.self) encoded no value"))
        }
        return v.resolved
    }
}

/// A value under construction: containers are reference-typed so nested containers can be filled after creation.
final class JSONValueEncoderBox {
    enum Node {
        case value(JSONValue)
        case object(JSONValueEncoderObject)
        case array(JSONValueEncoderArray)
        /// A value encoded through its own encoder (`superEncoder`), read when the parent resolves.
        case box(JSONValueEncoderBox)
        var resolved: JSONValue {
            switch self {
            case let .value(v): return v
            case let .box(b): return b.value?.resolved ?? .object([:])
            case let .object(o): return .object(o.items.mapValues { $0.resolved })
            case let .array(a): return .array(a.items.map { $0.resolved })
            }
        }
    }
    var value: Node?
}

final class JSONValueEncoderObject { var items: [String: JSONValueEncoderBox.Node] = [:] }
final class JSONValueEncoderArray { var items: [JSONValueEncoderBox.Node] = [] }

struct JSONValueEncoderImpl: Encoder {
    let box: JSONValueEncoderBox
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let obj: JSONValueEncoderObject
        if case let .object(existing)? = box.value { obj = existing } else { obj = JSONValueEncoderObject(); box.value = .object(obj) }
        return KeyedEncodingContainer(KeyedContainer<Key>(object: obj, codingPath: codingPath, userInfo: userInfo))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let arr: JSONValueEncoderArray
        if case let .array(existing)? = box.value { arr = existing } else { arr = JSONValueEncoderArray(); box.value = .array(arr) }
        return UnkeyedContainer(array: arr, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { SingleContainer(box: box, codingPath: codingPath, userInfo: userInfo) }

    /// The node of a value: primitives directly, anything else through its own `encode(to:)`.
    static func node<T: Encodable>(_ value: T, codingPath: [CodingKey], userInfo: [CodingUserInfoKey: Any]) throws -> JSONValueEncoderBox.Node {
        if let p = primitive(value) { return .value(p) }
        let b = JSONValueEncoderBox()
        try value.encode(to: JSONValueEncoderImpl(box: b, codingPath: codingPath, userInfo: userInfo))
        return b.value ?? .value(.object([:]))
    }

    static func primitive<T>(_ value: T) -> JSONValue? {
        switch value {
        case let v as Double: return .double(v)
        case let v as Float: return .double(Double(v))
        case let v as Int: return .int(v)
        case let v as Int64: return .int(Int(v))
        case let v as Int32: return .int(Int(v))
        case let v as UInt64: return v <= UInt64(Int.max) ? .int(Int(v)) : .double(Double(v))
        case let v as UInt32: return .int(Int(v))
        case let v as Bool: return .bool(v)
        case let v as String: return .string(v)
        case let v as JSONValue: return v
        default: return nil
        }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let object: JSONValueEncoderObject
        let codingPath: [CodingKey]
        let userInfo: [CodingUserInfoKey: Any]

        mutating func encodeNil(forKey key: Key) throws { object.items[key.stringValue] = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            object.items[key.stringValue] = try JSONValueEncoderImpl.node(value, codingPath: codingPath + [key], userInfo: userInfo)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let o = JSONValueEncoderObject()
            object.items[key.stringValue] = .object(o)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: o, codingPath: codingPath + [key], userInfo: userInfo))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            let a = JSONValueEncoderArray()
            object.items[key.stringValue] = .array(a)
            return UnkeyedContainer(array: a, codingPath: codingPath + [key], userInfo: userInfo)
        }
        mutating func superEncoder() -> Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
        mutating func superEncoder(forKey key: Key) -> Encoder {
            let b = JSONValueEncoderBox()
            object.items[key.stringValue] = .box(b)
            return JSONValueEncoderImpl(box: b, codingPath: codingPath + [key], userInfo: userInfo)
        }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let array: JSONValueEncoderArray
        let codingPath: [CodingKey]
        let userInfo: [CodingUserInfoKey: Any]
        var count: Int { array.items.count }

        private var indexKey: CodingKey { AnyCodingKey(index: array.items.count) }
        mutating func encodeNil() throws { array.items.append(.value(.null)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            array.items.append(try JSONValueEncoderImpl.node(value, codingPath: codingPath + [indexKey], userInfo: userInfo))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let o = JSONValueEncoderObject()
            let path = codingPath + [indexKey]
            array.items.append(.object(o))
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: o, codingPath: path, userInfo: userInfo))
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let a = JSONValueEncoderArray()
            let path = codingPath + [indexKey]
            array.items.append(.array(a))
            return UnkeyedContainer(array: a, codingPath: path, userInfo: userInfo)
        }
        mutating func superEncoder() -> Encoder {
            let b = JSONValueEncoderBox(), path = codingPath + [indexKey]
            array.items.append(.box(b))
            return JSONValueEncoderImpl(box: b, codingPath: path, userInfo: userInfo)
        }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let box: JSONValueEncoderBox
        let codingPath: [CodingKey]
        let userInfo: [CodingUserInfoKey: Any]
        mutating func encodeNil() throws { box.value = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            box.value = try JSONValueEncoderImpl.node(value, codingPath: codingPath, userInfo: userInfo)
        }
    }
}
