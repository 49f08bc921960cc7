// PNGImage: an 8-bit grayscale or RGB image and its PNG encoding (zlib deflate and CRC-32 from the system zlib).
import CZlib

/// A raster of 8-bit samples, row-major, `channels` (1: gray, 3: RGB) per pixel.
public struct PNGImage: Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    /// A width × height image filled with `fill`.
    public init(width: Int, height: Int, channels: Int = 1, fill: UInt8 = 255) {
        precondition(width > 0 && height > 0 && (channels == 1 || channels == 3), "PNGImage: bad geometry")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [UInt8](repeating: fill, count: width * height * channels)
    }

    /// Draws an H×W×C image with values in [0, 1] (clamped) at (x, y), each pixel as a scale × scale block.
    /// Gray images on an RGB canvas are replicated to the three channels.
    public mutating func draw(_ image: [Float], height h: Int, width w: Int, channels c: Int, x: Int, y: Int,
                              scale: Int = 1) {
        for r in 0..<(h * scale) {
            for col in 0..<(w * scale) {
                let (py, px) = (y + r, x + col)
                guard py < height, px < width else { continue }
                for ch in 0..<channels {
                    let v = image[((r / scale) * w + col / scale) * c + min(ch, c - 1)]
                    pixels[(py * width + px) * channels + ch] = UInt8((min(max(v, 0), 1) * 255).rounded())
                }
            }
        }
    }

    /// The PNG file (ISO/IEC 15948): signature, IHDR, one IDAT (zlib stream of filter-0 scanlines), IEND.
    public func encoded() -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        for r in 0..<height {
            raw.append(0)  // filter type None
            raw += pixels[(r * width * channels)..<((r + 1) * width * channels)]
        }
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compress2(&compressed, &bound, raw, uLong(raw.count), 9)
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        compressed.removeLast(compressed.count - Int(bound))
        var header = [UInt8]()
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, channels == 1 ? 0 : 2, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
        return file
    }

    private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
    }
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

/// A Figure-4-style grid: one row per strategy, the true batch first, then the reconstruction at each chosen
/// iteration; every image drawn at `scale`× with a `gap`-pixel white border.
public func reconstructionGrid(rows: [(truth: [Float], snapshots: [[Float]])], batch: Int, height h: Int, width w: Int,
                               channels c: Int, scale: Int = 2, gap: Int = 4) -> PNGImage {
    let cellW = batch * w * scale + (batch - 1) * (gap / 2), cellH = h * scale
    let columns = 1 + (rows.map(\.snapshots.count).max() ?? 0)
    var png = PNGImage(width: gap + columns * (cellW + gap), height: gap + rows.count * (cellH + gap),
                       channels: c == 1 ? 1 : 3)
    for (r, row) in rows.enumerated() {
        for (k, images) in ([row.truth] + row.snapshots).enumerated() {
            for i in 0..<batch {
                let image = Array(images[(i * h * w * c)..<((i + 1) * h * w * c)])
                png.draw(image, height: h, width: w, channels: c, x: gap + k * (cellW + gap) + i * (w * scale + gap / 2),
                         y: gap + r * (cellH + gap), scale: scale)
            }
        }
    }
    return png
}
