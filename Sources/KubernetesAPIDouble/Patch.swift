/// The patch formats the API server accepts, as far as helm and kubectl use them.
enum Patch {
    /// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
    static func merge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let changes) = patch else { return patch }
        var result = target.object ?? [:]
        for (key, value) in changes {
            if value == .null {
                result.removeValue(forKey: key)
            } else {
                result[key] = merge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Strategic merge patch, simplified: objects merge as in a merge patch; lists of
    /// objects that all carry a `name` merge by name (containers, ports, env, volumes);
    /// other lists replace. Directives (`$setElementOrder/…`, `$retainKeys`) are
    /// dropped, `$patch: delete` removes an element, `$patch: replace` replaces.
    static func strategicMerge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(var changes) = patch else { return patch }
        if changes["$patch"]?.string == "replace" {
            changes.removeValue(forKey: "$patch")
            return .object(changes)
        }
        var result = target.object ?? [:]
        for (key, value) in changes where !key.hasPrefix("$") {
            if value == .null {
                result.removeValue(forKey: key)
            } else if case .array(let patchItems) = value, case .array(let targetItems)? = result[key],
                patchItems.allSatisfy({ $0["name"]?.string != nil }), targetItems.allSatisfy({ $0["name"]?.string != nil })
            {
                var merged = targetItems
                for item in patchItems {
                    let name = item["name"]?.string
                    let index = merged.firstIndex { $0["name"]?.string == name }
                    if item["$patch"]?.string == "delete" {
                        if let index { merged.remove(at: index) }
                    } else if let index {
                        merged[index] = strategicMerge(merged[index], item)
                    } else {
                        merged.append(strategicMerge(.object([:]), item))
                    }
                }
                result[key] = .array(merged)
            } else {
                result[key] = strategicMerge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// RFC 6902 JSON patch: add, remove, replace and test.
    static func json(_ target: JSON, _ operations: JSON) throws -> JSON {
        guard let operations = operations.array else { throw Failure(description: "a JSON patch must be an array of operations") }
        var result = target
        for operation in operations {
            guard let op = operation["op"]?.string, let path = operation["path"]?.string else {
                throw Failure(description: "a JSON patch operation needs op and path")
            }
            let keys = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
            switch op {
            case "add", "replace":
                result = try set(result, Array(keys), operation["value"] ?? .null, insert: op == "add")
            case "remove":
                result = try remove(result, Array(keys))
            case "test":
                var current: JSON? = result
                for key in keys {
                    if case .array(let items)? = current, let index = Int(key), items.indices.contains(index) {
                        current = items[index]
                    } else {
                        current = current?[key]
                    }
                }
                guard current == operation["value"] else { throw Failure(description: "test failed at \(path)") }
            default:
                throw Failure(description: "unsupported JSON patch operation \(op)")
            }
        }
        return result
    }

    private static func set(_ target: JSON, _ keys: [String], _ value: JSON, insert: Bool) throws -> JSON {
        guard let key = keys.first else { return value }
        switch target {
        case .object(var members):
            members[key] = try set(members[key] ?? .object([:]), Array(keys.dropFirst()), value, insert: insert)
            return .object(members)
        case .array(var items):
            if key == "-", keys.count == 1 {
                items.append(value)
            } else if let index = Int(key), index >= 0, index <= items.count {
                if keys.count == 1, insert {
                    items.insert(value, at: index)
                } else if index < items.count {
                    items[index] = try set(items[index], Array(keys.dropFirst()), value, insert: insert)
                } else {
                    throw Failure(description: "index \(index) out of range")
                }
            } else {
                throw Failure(description: "bad array index \(key)")
            }
            return .array(items)
        default:
            throw Failure(description: "cannot set \(key) in a scalar")
        }
    }

    private static func remove(_ target: JSON, _ keys: [String]) throws -> JSON {
        guard let key = keys.first else { return target }
        switch target {
        case .object(var members):
            if keys.count == 1 {
                guard members.removeValue(forKey: key) != nil else { throw Failure(description: "no member \(key) to remove") }
            } else if let child = members[key] {
                members[key] = try remove(child, Array(keys.dropFirst()))
            }
            return .object(members)
        case .array(var items):
            guard let index = Int(key), items.indices.contains(index) else { throw Failure(description: "bad array index \(key)") }
            if keys.count == 1 { items.remove(at: index) } else { items[index] = try remove(items[index], Array(keys.dropFirst())) }
            return .array(items)
        default:
            throw Failure(description: "cannot remove \(key) from a scalar")
        }
    }
}
