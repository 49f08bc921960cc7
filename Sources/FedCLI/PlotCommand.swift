// PlotCommand: `fednoise plot`, one column of several result CSVs overlaid in one SVG (compare runs, or a reference).
import Foundation

public enum PlotCommand {
    static let help = """
    USAGE: fednoise plot SOURCE... --output FILE.svg [options]

    Draws one column of several result tables as lines in one chart, to compare runs with each other or with a
    reference (for example results/fedavg/torch_fedavg.py's CSV). A SOURCE is a CSV file with a header row, or a
    folder holding rounds.csv (fednoise run) or epochs.csv (fednoise train). Rows where the column is empty (rounds
    that were not evaluated) are skipped.

    OPTIONS:
      --output FILE        the SVG to write (required)
      --column NAME        the y column (default test_accuracy)
      --x NAME             the x column (default: round, else epoch)
      --name NAME          a series name, once per SOURCE in order (default: the folder or file name)
      --target Y           also draw the horizontal line y = Y, e.g. --target 0.99
      --y-min Y, --y-max Y fix the y axis (default: fit the data)
      --title TEXT         the chart title (default: the column)
      -h, --help           show this help
    """

    public static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help"], repeatable: ["name"])
        if args.flag("help") {
            say(help)
            return
        }
        guard let output = args.string("output") else { throw UsageError("--output FILE.svg is required") }
        let column = args.string("column") ?? "test_accuracy"
        let xColumn = args.string("x")
        let names = args.strings("name")
        let anyNumber = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        let targetLine = try args.double("target", in: anyNumber)
        let yMin = try args.double("y-min", in: anyNumber)
        let yMax = try args.double("y-max", in: anyNumber)
        let title = args.string("title") ?? column
        let sources = args.positionals
        try args.finish(maxPositionals: .max)
        guard !sources.isEmpty else { throw UsageError("name at least one CSV file or result folder") }
        guard names.isEmpty || names.count == sources.count else {
            throw UsageError("--name is given \(names.count) time(s) for \(sources.count) source(s)")
        }
        var series: [PlotSeries] = []
        var xUsed: String?
        var tables: [ResultTable] = []
        for source in sources { tables.append(try ResultTable(source: source)) }
        // Never overwrite an input: `plot a.csv --output a.csv` would replace the data with its chart.
        let target = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        for table in tables where URL(fileURLWithPath: table.path).standardizedFileURL.resolvingSymlinksInPath().path
            == target {
            throw UsageError("--output \(output) is the input \(table.path); give another file name for the chart")
        }
        try OutputPlace.prepareFile(output, origin: "--output")
        for (i, table) in tables.enumerated() {
            let xName = xColumn ?? (table.header.contains("round") ? "round" : "epoch")
            if let xUsed, xUsed != xName {
                throw UsageError("\(table.path): its x column is '\(xName)' but an earlier source's is '\(xUsed)' "
                                 + "(give --x to choose one)")
            }
            xUsed = xName
            let x = try table.column(xName)
            let y = try table.column(column)
            let points = try zip(x, y).compactMap { xv, yv -> (x: Double, y: Double)? in
                guard let yv = try yv.value(), let xv = try xv.value() else { return nil }
                return (xv, yv)
            }
            series.append(PlotSeries(name: names.isEmpty ? table.name : names[i], points: points))
        }
        guard series.contains(where: { !$0.points.isEmpty }) else {
            throw UsageError("no row of \(tables.map(\.path).joined(separator: ", ")) has a value in column "
                             + "'\(column)': nothing to plot")
        }
        if let targetLine {
            let xs = series.flatMap { $0.points.map(\.x) }
            if let lo = xs.min(), let hi = xs.max() {
                series.append(PlotSeries(name: "target \(targetLine)", points: [(lo, targetLine), (hi, targetLine)]))
            }
        }
        var plot = LinePlot(title: title, xLabel: xUsed ?? "round", yLabel: column, series: series)
        if yMin != nil || yMax != nil {
            let ys = series.flatMap { $0.points.map(\.y) }
            let lo = yMin ?? ys.min() ?? 0, hi = yMax ?? ys.max() ?? 1
            guard lo < hi else {
                switch (yMin, yMax) {
                case (.some, .some): throw UsageError("--y-min must be below --y-max (got \(lo) and \(hi))")
                case (.some, nil): throw UsageError("--y-min \(lo) is not below the data's largest value \(hi)")
                default: throw UsageError("--y-max \(hi) is not above the data's smallest value \(lo)")
                }
            }
            plot.yRange = lo...hi
        }
        let url = URL(fileURLWithPath: output)
        try plot.render().write(to: url, atomically: true, encoding: .utf8)
        say("wrote \(output): \(series.map { "\($0.name) (\($0.points.count) points)" }.joined(separator: ", "))")
    }
}

/// A CSV result table (comma-separated, no quoted fields) whose errors name the file, the line and the column.
struct ResultTable {
    var path: String
    var name: String
    var header: [String]
    var rows: [[Substring]]
    /// The file line of each row (1-based), for error messages.
    var rowLines: [Int]

    /// One cell, parsed on demand so an error can say where it is.
    struct Cell {
        var text: Substring
        var path: String
        var line: Int
        var column: String
        /// nil for an empty cell; an error naming the place for text that is not a finite number (a NaN or
        /// infinite loss means a diverged run: it has no place on a chart's axis).
        func value() throws(UsageError) -> Double? {
            let text = self.text.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { return nil }
            guard let v = Double(text) else {
                throw UsageError("\(path): line \(line), column '\(column)': '\(text)' is not a number")
            }
            guard v.isFinite else {
                throw UsageError("\(path): line \(line), column '\(column)': '\(text)' is not a finite number "
                                 + "(a diverged run?); leave the cell empty to skip it")
            }
            return v
        }
    }

    /// The largest CSV read (a run of a million rounds writes ~300 MB).
    static let maximumBytes = 512_000_000

    init(source: String) throws(UsageError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw UsageError("\(source): no such file or folder")
        }
        var file = source
        if isDirectory.boolValue {
            let candidates = ["rounds.csv", "epochs.csv"].map { (source as NSString).appendingPathComponent($0) }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw UsageError("\(source): a folder without rounds.csv or epochs.csv")
            }
            file = found
        }
        // A device or a huge file is not a result table (and /dev/zero would never end).
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        guard attributes?[.type] as? FileAttributeType == .typeRegular else {
            throw UsageError("\(file): not a regular file")
        }
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maximumBytes else {
            throw UsageError("\(file): \(FedCLI.bytes(size)) is more than a result table (at most "
                             + "\(FedCLI.bytes(Self.maximumBytes)))")
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else { throw UsageError("\(file): cannot read it as UTF-8 text") }
        // "\r\n" is one Character in Swift, so split on it as well as on "\n" (and a lone "\r"): CRLF files work.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        guard let first = lines.first, !first.isEmpty else { throw UsageError("\(file): empty, no header row") }
        let names = first.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw UsageError("\(file): line 1: the column name '\(dup)' appears twice")
        }
        path = file
        let url = URL(fileURLWithPath: source)
        name = isDirectory.boolValue ? url.lastPathComponent : url.deletingPathExtension().lastPathComponent
        header = names
        rows = []
        rowLines = []
        for (i, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw UsageError("\(file): line \(i + 1) has \(cells.count) fields, the header has \(header.count)")
            }
            rows.append(cells)
            rowLines.append(i + 1)
        }
    }

    func column(_ name: String) throws(UsageError) -> [Cell] {
        guard let j = header.firstIndex(of: name) else {
            throw UsageError("\(path): no column '\(name)' (columns: \(header.joined(separator: ", ")))")
        }
        return zip(rows, rowLines).map { Cell(text: $0[j], path: path, line: $1, column: name) }
    }
}
