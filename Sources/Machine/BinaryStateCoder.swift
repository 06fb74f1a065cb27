// BinaryStateCoder: a compact binary form of the `Codable` state types (VMState, SwitchState)
// for the stop-and-copy, where Foundation's JSON coders spent about 2 ms of a 3 ms downtime on
// 4 KB of state. Values are written depth first in the order `encode(to:)` visits them; keys
// are not written, so both sides must run the same layout of the types (the wire format
// version says so). Integers are little-endian at their width, Bool one byte, String and
// Data a 32-bit length then bytes, arrays a 32-bit count then elements, optionals a presence
// byte. Every read is bounds-checked: a short or garbled payload throws, never traps.

import Foundation

/// Encodes and decodes `Codable` values in the binary state format.
public enum BinaryStateCoder {
    /// The first byte of a binary state payload (a JSON payload starts with `{` or `[`).
    public static let marker: UInt8 = 0x01

    /// `value` as a binary payload (marker first).
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let sink = ByteSink()
        sink.bytes.append(marker)
        try value.encode(to: BinaryEncoder(sink))
        return sink.bytes
    }

    /// Decodes a payload made by `encode`; throws on anything else or trailing bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: [UInt8]) throws -> T {
        guard payload.first == marker else { throw BinaryStateError("not a binary state payload") }
        let source = ByteSource(payload, offset: 1)
        let value = try T(from: BinaryDecoder(source))
        guard source.offset == payload.count else { throw BinaryStateError("\(payload.count - source.offset) trailing bytes") }
        return value
    }

    /// Decodes either form: binary (marker) or JSON.
    public static func decodeAny<T: Decodable>(_ type: T.Type, from payload: [UInt8]) throws -> T {
        if payload.first == marker { return try decode(type, from: payload) }
        return try JSONDecoder().decode(type, from: Data(payload))
    }
}

/// A malformed binary state payload.
public struct BinaryStateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "binary state: " + description }
}

final class ByteSink {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(4096) }
    func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    func put(_ s: String) {
        let utf8 = Array(s.utf8)
        put(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

final class ByteSource {
    let bytes: [UInt8]
    var offset: Int
    init(_ bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }
    func take<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let n = MemoryLayout<T>.size
        guard offset + n <= bytes.count else { throw BinaryStateError("truncated at byte \(offset)") }
        let v = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += n
        return v
    }
    func takeString() throws -> String {
        let n = Int(try take(UInt32.self))
        guard n <= bytes.count - offset else { throw BinaryStateError("string of \(n) bytes past the end") }
        let s = String(decoding: bytes[offset..<offset + n], as: UTF8.self)
        offset += n
        return s
    }
    func takeCount() throws -> Int {
        let n = Int(try take(UInt32.self))
        // Each element takes at least one byte: a count beyond the rest is garbage.
        guard n <= bytes.count - offset else { throw BinaryStateError("count \(n) past the end") }
        return n
    }
}

// MARK: Encoding

struct BinaryEncoder: Encoder {
    let sink: ByteSink
    init(_ sink: ByteSink) { self.sink = sink }
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(BinaryKeyedEncoding<Key>(sink: sink))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { BinaryUnkeyedEncoding(sink: sink) }
    func singleValueContainer() -> any SingleValueEncodingContainer { BinarySingleEncoding(sink: sink) }
}

/// Writes one value of any supported kind.
func binaryPut<T: Encodable>(_ value: T, _ sink: ByteSink) throws {
    switch value {
    case let v as Bool: sink.bytes.append(v ? 1 : 0)
    case let v as String: sink.put(v)
    case let v as Double: sink.put(v.bitPattern)
    case let v as Float: sink.put(v.bitPattern)
    case let v as Int: sink.put(Int64(v))
    case let v as Int8: sink.put(v)
    case let v as Int16: sink.put(v)
    case let v as Int32: sink.put(v)
    case let v as Int64: sink.put(v)
    case let v as UInt: sink.put(UInt64(v))
    case let v as UInt8: sink.bytes.append(v)
    case let v as UInt16: sink.put(v)
    case let v as UInt32: sink.put(v)
    case let v as UInt64: sink.put(v)
    case let v as [UInt8]:
        sink.put(UInt32(v.count))
        sink.bytes.append(contentsOf: v)
    case let v as Data:
        sink.put(UInt32(v.count))
        sink.bytes.append(contentsOf: v)
    default: try value.encode(to: BinaryEncoder(sink))
    }
}

struct BinaryKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: ByteSink
    var codingPath: [any CodingKey] { [] }
    mutating func encodeNil(forKey key: Key) throws { sink.bytes.append(0) }  // as an absent optional
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try binaryPut(value, sink) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try optional(value) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try optional(value) }
    /// The one place optionals are written (every overload above comes here): a presence
    /// byte, then the value.
    private func optional<T: Encodable>(_ value: T?) throws {
        guard let value else { sink.bytes.append(0); return }
        sink.bytes.append(1)
        try binaryPut(value, sink)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(BinaryKeyedEncoding<NestedKey>(sink: sink))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { BinaryUnkeyedEncoding(sink: sink) }
    mutating func superEncoder() -> any Encoder { BinaryEncoder(sink) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { BinaryEncoder(sink) }
}

/// An array: a 32-bit count (kept up to date as elements are written) then the elements.
final class BinaryUnkeyedEncoding: UnkeyedEncodingContainer {
    let sink: ByteSink
    private let countAt: Int
    private(set) var count = 0
    var codingPath: [any CodingKey] { [] }
    init(sink: ByteSink) {
        self.sink = sink
        countAt = sink.bytes.count
        sink.put(UInt32(0))
    }
    private func bump() {
        count += 1
        withUnsafeBytes(of: UInt32(count).littleEndian) { c in for k in 0..<4 { sink.bytes[countAt + k] = c[k] } }
    }
    /// Arrays of optionals are not part of the state types; refusing them keeps the format
    /// unambiguous.
    func encodeNil() throws { throw BinaryStateError("arrays of optionals are not supported") }
    func encode<T: Encodable>(_ value: T) throws {
        bump()
        try binaryPut(value, sink)
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        bump()
        return KeyedEncodingContainer(BinaryKeyedEncoding<NestedKey>(sink: sink))
    }
    func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        bump()
        return BinaryUnkeyedEncoding(sink: sink)
    }
    func superEncoder() -> any Encoder {
        bump()
        return BinaryEncoder(sink)
    }
}

struct BinarySingleEncoding: SingleValueEncodingContainer {
    let sink: ByteSink
    var codingPath: [any CodingKey] { [] }
    mutating func encodeNil() throws { throw BinaryStateError("a bare optional value is not supported") }
    mutating func encode<T: Encodable>(_ value: T) throws { try binaryPut(value, sink) }
}

// MARK: Decoding

struct BinaryDecoder: Decoder {
    let source: ByteSource
    init(_ source: ByteSource) { self.source = source }
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(BinaryKeyedDecoding<Key>(source: source))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try BinaryUnkeyedDecoding(source: source) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { BinarySingleDecoding(source: source) }
}

/// Reads one value of any supported kind.
func binaryTake<T: Decodable>(_ type: T.Type, _ source: ByteSource) throws -> T {
    func cast<V>(_ v: V) throws -> T {
        guard let t = v as? T else { throw BinaryStateError("type mismatch") }
        return t
    }
    switch type {
    case is Bool.Type:
        let b = try source.take(UInt8.self)
        guard b <= 1 else { throw BinaryStateError("bool byte \(b)") }
        return try cast(b == 1)
    case is String.Type: return try cast(try source.takeString())
    case is Double.Type: return try cast(Double(bitPattern: try source.take(UInt64.self)))
    case is Float.Type: return try cast(Float(bitPattern: try source.take(UInt32.self)))
    case is Int.Type: return try cast(Int(truncatingIfNeeded: try source.take(Int64.self)))
    case is Int8.Type: return try cast(try source.take(Int8.self))
    case is Int16.Type: return try cast(try source.take(Int16.self))
    case is Int32.Type: return try cast(try source.take(Int32.self))
    case is Int64.Type: return try cast(try source.take(Int64.self))
    case is UInt.Type: return try cast(UInt(truncatingIfNeeded: try source.take(UInt64.self)))
    case is UInt8.Type: return try cast(try source.take(UInt8.self))
    case is UInt16.Type: return try cast(try source.take(UInt16.self))
    case is UInt32.Type: return try cast(try source.take(UInt32.self))
    case is UInt64.Type: return try cast(try source.take(UInt64.self))
    case is [UInt8].Type:
        let n = try source.takeCount()
        let v = Array(source.bytes[source.offset..<source.offset + n])
        source.offset += n
        return try cast(v)
    case is Data.Type:
        let n = try source.takeCount()
        let v = Data(source.bytes[source.offset..<source.offset + n])
        source.offset += n
        return try cast(v)
    default: return try T(from: BinaryDecoder(source))
    }
}

struct BinaryKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let source: ByteSource
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    /// Keys are not written: every key of the type is "there" (its presence is in its value).
    func contains(_ key: Key) -> Bool { true }
    /// Reads a presence byte (written by `encodeIfPresent`/`encodeNil`); the value follows it.
    func decodeNil(forKey key: Key) throws -> Bool {
        let b = try source.take(UInt8.self)
        guard b <= 1 else { throw BinaryStateError("presence byte \(b)") }
        return b == 0
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try binaryTake(type, source) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try present(type) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try present(type) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try present(type) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try present(type) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try present(type) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try present(type) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try present(type) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try present(type) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try present(type) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try present(type) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try present(type) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try present(type) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try present(type) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try present(type) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try present(type) }
    /// The one place optionals are read (a presence byte, then the value).
    private func present<T: Decodable>(_ type: T.Type) throws -> T? {
        let b = try source.take(UInt8.self)
        switch b {
        case 0: return nil
        case 1: return try binaryTake(type, source)
        default: throw BinaryStateError("presence byte \(b)")
        }
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(BinaryKeyedDecoding<NestedKey>(source: source))
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try BinaryUnkeyedDecoding(source: source) }
    func superDecoder() throws -> any Decoder { BinaryDecoder(source) }
    func superDecoder(forKey key: Key) throws -> any Decoder { BinaryDecoder(source) }
}

final class BinaryUnkeyedDecoding: UnkeyedDecodingContainer {
    let source: ByteSource
    let count: Int?
    private(set) var currentIndex = 0
    var codingPath: [any CodingKey] { [] }
    var isAtEnd: Bool { currentIndex >= total }
    /// The element count read at the start (`count` is the protocol's optional view of it).
    private let total: Int
    init(source: ByteSource) throws {
        self.source = source
        total = try source.takeCount()
        count = total
    }
    private func next() throws {
        guard !isAtEnd else { throw BinaryStateError("read past the end of an array") }
        currentIndex += 1
    }
    func decodeNil() throws -> Bool { throw BinaryStateError("arrays of optionals are not supported") }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try next()
        return try binaryTake(type, source)
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next()
        return KeyedDecodingContainer(BinaryKeyedDecoding<NestedKey>(source: source))
    }
    func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next()
        return try BinaryUnkeyedDecoding(source: source)
    }
    func superDecoder() throws -> any Decoder {
        try next()
        return BinaryDecoder(source)
    }
}

struct BinarySingleDecoding: SingleValueDecodingContainer {
    let source: ByteSource
    var codingPath: [any CodingKey] { [] }
    func decodeNil() -> Bool { false }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try binaryTake(type, source) }
}
