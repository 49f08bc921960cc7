// OutputPlace: checks where results go before any work starts, and puts filesystem errors into words.
import Foundation

/// Result folders and files are checked (and created) before training, so a run never computes for an hour and then
/// fails to write; every problem is named in words with the path and the input that gave it.
enum OutputPlace {
    /// The longest file name (one path component) and path Linux and macOS accept, in bytes.
    static let maximumNameBytes = 255
    static let maximumPathBytes = 4_095

    /// Makes sure `path` is (or can become) a writable folder, creating it. `origin` names the input: "--output",
    /// "config key 'output'"…
    @discardableResult
    static func prepareFolder(_ path: String, origin: String) throws(UsageError) -> URL {
        try checkName(path, origin: origin)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw UsageError("\(origin) '\(path)' is a file; give a folder for the results")
            }
        } else {
            try checkAncestors(of: path, origin: origin)
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw UsageError("\(origin): cannot create the folder '\(path)': \(reason(error))")
            }
        }
        try probeWritable(folder: path, origin: origin)
        return URL(fileURLWithPath: path)
    }

    /// Makes sure the file `path` can be written: its folder exists (created) and is writable, and `path` itself
    /// is not a folder.
    static func prepareFile(_ path: String, origin: String) throws(UsageError) {
        try checkName(path, origin: origin)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw UsageError("\(origin) '\(path)' is a folder; give a file name")
        }
        let parent = (path as NSString).deletingLastPathComponent
        try prepareFolder(parent.isEmpty ? "." : parent, origin: origin)
    }

    private static func checkName(_ path: String, origin: String) throws(UsageError) {
        guard !path.isEmpty else { throw UsageError("\(origin) is empty; give a path") }
        guard !path.contains("\0") else { throw UsageError("\(origin) holds a NUL character") }
        guard path.utf8.count <= maximumPathBytes else {
            throw UsageError("\(origin) is \(path.utf8.count) bytes long; paths may have at most \(maximumPathBytes)")
        }
        for part in path.split(separator: "/") where part.utf8.count > maximumNameBytes {
            throw UsageError("\(origin): the name '\(part.prefix(24))…' is \(part.utf8.count) bytes long; "
                             + "file and folder names may have at most \(maximumNameBytes)")
        }
    }

    /// The nearest existing ancestor must be a folder.
    private static func checkAncestors(of path: String, origin: String) throws(UsageError) {
        var current = (path as NSString).deletingLastPathComponent
        while !current.isEmpty && current != "/" {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: current, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    throw UsageError("\(origin) '\(path)': '\(current)' is a file, not a folder")
                }
                return
            }
            current = (current as NSString).deletingLastPathComponent
        }
    }

    /// Creates and removes a file in `folder`: the only test that sees read-only mounts and permissions alike.
    private static func probeWritable(folder: String, origin: String) throws(UsageError) {
        let probe = (folder as NSString).appendingPathComponent(".fednoise-write-test-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw UsageError("\(origin): cannot write into the folder '\(folder)': \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probe)
    }

    /// A filesystem error as a sentence part: "No space left on device", "Permission denied"…
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
            case .fileWriteOutOfSpace: return "no space left on the device"
            case .fileWriteVolumeReadOnly: return "the file system is read-only"
            case .fileWriteFileExists: return "a file of that name is in the way"
            case .fileNoSuchFile, .fileReadNoSuchFile: return "a folder on the way does not exist"
            case .fileWriteInvalidFileName: return "the name is not valid here"
            default: break
            }
        }
        return ns.localizedDescription
    }

    /// The path a filesystem error is about, when it says.
    static func path(of error: any Error) -> String? {
        let info = (error as NSError).userInfo
        return (info[NSFilePathErrorKey] as? String) ?? (info[NSURLErrorKey] as? URL)?.path
    }
}
